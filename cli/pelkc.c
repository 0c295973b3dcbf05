/* pelkc: the command-line driver. Each subcommand reads straight through the
 * folders: frontend (spec, weights) -> ir -> passes -> backends; `run` loads
 * what `compile` wrote; `conv` and `bench-conv` (conv_cmd.c) do the same for
 * one peripheral conv layer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/version.h"
#include "../backends/gpu/gpu.h"
#include "../frontend/build_graph.h"
#include "cli.h"

static const char usage[] =
    "usage: pelkc COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  check SPEC                          validate a model spec; print a summary\n"
    "  compile SPEC -o M.so (--weights W.safetensors | --random-weights SEED) [--target T]\n"
    "                                      build a standalone shared library\n"
    "  run M.so [--input X.npy] [--output Y.npy] [--batch N] [--seed S] [--threads T]\n"
    "                                      run a compiled model (random input unless --input)\n"
    "  run SPEC (--weights W | --random-weights SEED) [same options]\n"
    "                                      compile in process with libtcc (no file written; the\n"
    "                                      kernels are pelkc's, precompiled) and run; --cc CC\n"
    "                                      builds a temporary .so with that compiler instead;\n"
    "                                      --backend llvm compiles with LLVM's JIT (no file)\n"
    "  emit ir SPEC [--print-after-all]    print the IR (after every pass if asked)\n"
    "  emit c SPEC                         print the generated C (code only, not weights)\n"
    "  emit llvm SPEC [--print-after-all]  print the LLVM IR module the LLVM backend builds (before\n"
    "                                      LLVM's optimisation; not the weights), after pelkc's IR\n"
    "                                      after every pass if asked\n"
    "  emit ptx SPEC [--sm 80|90]          print the PTX module of the GPU kernels (LLVM NVPTX)\n"
    "  conv --kernel K --grid G --channels C --size HxW --weights W --input X.npy --output Y.npy\n"
    "                                      run one peripheral conv layer (weights: 'weight'\n"
    "                                      [C,1,k'r,k'c], 'bias' [C], 'kpe' [C,K,K] with --kpe)\n"
    "  bench-conv --kernel K --grid G --channels C --size HxW [--batch N] [--threads T] [--iters N]\n"
    "                                      time one peripheral conv layer; last line median_ms: X\n"
    "  bench SPEC [--batch N] [--threads T] [--iters N]\n"
    "                                      compile with random weights and time the whole network;\n"
    "                                      last line median_ms: X\n"
    "  stats SPEC [--periph dense]         per-op table of the compiled network: output shape,\n"
    "                                      stored params, multiply-adds executed and with dense\n"
    "                                      kernels, output bytes; totals; each peripheral conv's\n"
    "                                      parameter saving\n"
    "  grid SPEC --stage I [--png F]       draw a stage's sharing regions, one character per tap\n"
    "  grid --kernel K --grid G [--png F]  (and as a PNG picture); or a kernel given directly\n"
    "  sweep SPEC --stage I --grid G1 [--grid G2 ...] [--kernel K ...] [--csv F] [--png F]\n"
    "                                      compile and time the stage's conv for every grid (and\n"
    "                                      kernel; default the stage's): a table, a CSV (variant,\n"
    "                                      grid, kernel, k', params, macs, median_ms, compiler)\n"
    "                                      and a PNG; failing variants are reported, the rest run\n"
    "  scaling (--model convnext-t | SPEC) [--csv F] [--png F] [--kernel K ...] [--stage I]\n"
    "                                      params vs kernel size 7..151 (same K in every stage)\n"
    "                                      for dense, stripe Kx5+5xK and peripheral kernels (the\n"
    "                                      paper's Fig. 6), and the measured time of one stage's\n"
    "                                      conv (peripheral lowered; dense up to --dense-max) at\n"
    "                                      the --kernel sizes (default 7,15,31,51,71,101,151);\n"
    "                                      --channels C --size HxW override the stage's shape\n"
    "\n"
    "options:\n"
    "  --backend c|llvm         how compile, run SPEC, bench, conv and bench-conv build the model:\n"
    "                           c (default: generated C and the C compiler) or llvm (LLVM IR and\n"
    "                           LLVM's O3 pipeline; run, bench, conv and bench-conv then compile\n"
    "                           in process with LLVM's JIT and write no file)\n"
    "  -o, --output-file M.so   where compile writes the library\n"
    "  --weights W              float32 safetensors with the spec's weight names\n"
    "  --random-weights SEED    seeded random weights (for demos and benchmarks)\n"
    "  --periph lowered|dense   peripheral convs as box sums plus gather (default), or as\n"
    "                           dense depthwise convs over the expanded kernel (the baseline)\n"
    "  --grid G                 a sharing grid in the spec's YAML syntax, e.g. '{center: 5, base: 2}'\n"
    "                           or '[9,8,4,2,1,1,1,1,1,2,4,8,9]' or '{rows: [...], cols: [...]}'\n"
    "  --kpe none|constant|border  positional embedding of `conv` (default none)\n"
    "  --target c|cuda|cuda-emulate  what compile builds: C for this CPU (default); PTX run\n"
    "                           through the CUDA driver (dlopen'd at pelkc_create); or the\n"
    "                           same GPU kernels and launches run on the CPU (for testing)\n"
    "  --sm 80|90               GPU architecture for emit ptx and --target cuda (default 80)\n"
    "  --stage I                a stage of the spec, from 0 (grid)\n"
    "  --png F                  also draw the picture into the PNG file F\n"
    "  --csv F                  write the figures as CSV to F (sweep, scaling)\n"
    "  --model NAME             a built-in model (scaling: convnext-t)\n"
    "  --dense-max K            scaling: time dense convs only up to kernel K (default 51)\n"
    "  --threads T              threads to run on (default 1)\n"
    "  --iters N                timed runs (bench-conv: default 30 after 3 warm-ups; bench,\n"
    "                           sweep: default 10 after 2 warm-ups)\n"
    "  --march ARCH             target CPU for the generated code (default native; 'generic'\n"
    "                           leaves the compiler's default; the LLVM backend takes only\n"
    "                           native or generic)\n"
    "  --prefix P               name the .so's exported symbols P<name> (compile), or load\n"
    "                           such a .so (run); see runtime/pelkc_model.h\n"
    "  --cc CC                  C compiler for the C backend, linker driver for the LLVM\n"
    "                           backend (default: $PELKC_CC or cc; for run SPEC: tcc). 'tcc'\n"
    "                           compiles in process with libtcc: fast to build, generic kernels\n"
    "                           (run, conv, bench, bench-conv, sweep, scaling; emit c shows its\n"
    "                           C); timings say which compiler built the code they measured\n"
    "  --keep-temps             keep the build directory and print its path (with --backend\n"
    "                           llvm it also holds model.ll, the module after LLVM's O3)\n"
    "  -v, --verbose            print the compiler command line\n"
    "  -h, --help               this text;  --version  the version\n"
    "\n"
    "Errors print one line (file:line:col for specs) and exit 1; nothing is written.\n"
    "Formats: spec/SPEC.md (specs), spec/IR.md (IR), runtime/pelkc_model.h (C API).\n";

int die(const char *msg)
{
    fprintf(stderr, "pelkc: %s\n", msg);
    return 1;
}

double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* A table written to path.partial, renamed to path once whole, so a failed
 * run never leaves a half-written file under the asked-for name. */
FILE *open_partial(const char *path, char *tmp, size_t cap, pelk_diag *d)
{
    snprintf(tmp, cap, "%s.partial", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        diag_set(d, "%s: cannot write", path);
    return f;
}

int commit_partial(FILE *f, const char *tmp, const char *path, pelk_diag *d)
{
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        remove(tmp);
        return diag_set(d, "%s: write failed", path);
    }
    return 0;
}

build_options make_build_options(const options *o)
{
    build_options bo = {.cc = o->cc, .keep_temps = o->keep_temps, .verbose = o->verbose,
                        .prefix = o->prefix};
    bo.march = strcmp(o->march, "generic") ? o->march : NULL;
    bo.vec = target_vec(bo.march);
    /* tcc compiles in process: only the orchestration, calling pelkc's own kernels */
    bo.host_kernels = o->cc && !strcmp(o->cc, "tcc");
    if (bo.host_kernels)
        bo.vec = host_kernels_vec();
    return bo;
}

pass_options make_pass_options(const options *o)
{
    pass_options po = {.periph_dense = o->periph_dense};
    /* the GPU kernels take a LayerNorm as its own launch, not fused into the next layer */
    po.keep_norms = o->target != TARGET_C;
    return po;
}

/* --target's values, in target_kind's order */
static const char *const target_names[] = {"c", "cuda", "cuda-emulate"};

/* ---- argument parsing ---- */

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "pelkc: %s needs an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Apply one option that takes a value; -1 after printing an error. */
static int set_option(options *o, const char *a, const char *v)
{
    if (!strcmp(a, "--weights"))
        o->weights = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output-file"))
        o->out = v;
    else if (!strcmp(a, "--input"))
        o->input = v;
    else if (!strcmp(a, "--output"))
        o->output = v;
    else if (!strcmp(a, "--cc"))
        o->cc = o->cc_flag = v;
    else if (!strcmp(a, "--png"))
        o->png = v;
    else if (!strcmp(a, "--csv"))
        o->csv = v;
    else if (!strcmp(a, "--model"))
        o->model = v;
    else if (!strcmp(a, "--march"))
        o->march = v;
    else if (!strcmp(a, "--grid")) {
        if (o->n_grids == MAX_LIST) {
            fprintf(stderr, "pelkc: --grid given more than %d times\n", MAX_LIST);
            return -1;
        }
        o->grid = o->grids[o->n_grids++] = v;
    }
    else if (!strcmp(a, "--kpe"))
        o->kpe = v;
    else if (!strcmp(a, "--target")) {
        int t = TARGET_C;
        while (t <= TARGET_CUDA_EMULATE && strcmp(v, target_names[t]))
            t++;
        if (t > TARGET_CUDA_EMULATE) {
            fprintf(stderr, "pelkc: --target must be 'c', 'cuda' or 'cuda-emulate', got '%s'\n", v);
            return -1;
        }
        o->target = (target_kind)t;
    } else if (!strcmp(a, "--sm")) {
        if (strcmp(v, "80") && strcmp(v, "90")) {
            fprintf(stderr, "pelkc: --sm must be 80 or 90, got '%s'\n", v);
            return -1;
        }
        o->sm = atoi(v);
    } else if (!strcmp(a, "--backend")) {
        if (strcmp(v, "c") && strcmp(v, "llvm")) {
            fprintf(stderr, "pelkc: --backend must be 'c' or 'llvm', got '%s'\n", v);
            return -1;
        }
        o->backend = v;
    } else if (!strcmp(a, "--prefix")) {
        for (const char *c = v; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
                  (c > v && *c >= '0' && *c <= '9'))) {
                fprintf(stderr, "pelkc: --prefix must be a C identifier, got '%s'\n", v);
                return -1;
            }
        o->prefix = v;
    }
    else if (!strcmp(a, "--random-weights") || !strcmp(a, "--seed")) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (!*v || *end || errno || *v == '-') {
            fprintf(stderr, "pelkc: %s needs a non-negative integer, got '%s'\n", a, v);
            return -1;
        }
        o->seed = s;
        o->random_weights |= a[2] == 'r';
    } else if (!strcmp(a, "--periph")) {
        if (strcmp(v, "dense") && strcmp(v, "lowered")) {
            fprintf(stderr, "pelkc: --periph must be 'lowered' or 'dense', got '%s'\n", v);
            return -1;
        }
        o->periph_dense = !strcmp(v, "dense");
    } else if (!strcmp(a, "--size")) {
        char *x = strchr(v, 'x');
        char hs[32];
        if (!x || x - v >= (long)sizeof hs) {
            fprintf(stderr, "pelkc: --size needs HxW, got '%s'\n", v);
            return -1;
        }
        memcpy(hs, v, (size_t)(x - v));
        hs[x - v] = '\0';
        return parse_int("--size H", hs, 1, 1 << 15, &o->height) ||
               parse_int("--size W", x + 1, 1, 1 << 15, &o->width);
    } else if (!strcmp(a, "--batch"))
        return parse_int(a, v, 1, 65536, &o->batch);
    else if (!strcmp(a, "--threads"))
        return parse_int(a, v, 1, 1024, &o->threads);
    else if (!strcmp(a, "--iters"))
        return parse_int(a, v, 1, 1000000, &o->iters);
    else if (!strcmp(a, "--kernel")) {
        if (o->n_kernels == MAX_LIST) {
            fprintf(stderr, "pelkc: --kernel given more than %d times\n", MAX_LIST);
            return -1;
        }
        if (parse_int(a, v, 1, 4095, &o->kernel))
            return -1;
        o->kernels[o->n_kernels++] = o->kernel;
    } else if (!strcmp(a, "--stage"))
        return parse_int(a, v, 0, 1023, &o->stage);
    else if (!strcmp(a, "--dense-max"))
        return parse_int(a, v, 0, 4095, &o->dense_max);
    else if (!strcmp(a, "--channels"))
        return parse_int(a, v, 1, 65536, &o->channels);
    else {
        fprintf(stderr, "pelkc: unknown option '%s' (see pelkc --help)\n", a);
        return -1;
    }
    return 0;
}

/* Parse argv into o; returns 0 to go on, 1 for an error (printed), 2 after --help/--version. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->seed = 1;
    o->threads = 1;
    o->iters = 0; /* each timing command has its own default */
    o->march = "native";
    o->stage = -1;
    o->dense_max = 51;
    o->target = TARGET_C;
    o->sm = 80;
    o->backend = "c";
    o->cc = getenv("PELKC_CC");
    int pos = 0;
    const char *positional[4] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 2;
        } else if (!strcmp(a, "--version")) {
            printf("pelkc %s\n", PELKC_VERSION);
            return 2;
        } else if (!strcmp(a, "--print-after-all")) {
            o->print_after_all = 1;
        } else if (!strcmp(a, "--keep-temps")) {
            o->keep_temps = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (a[0] == '-' && a[1]) {
            if (i + 1 >= argc) {
                static const char *const valued[] = {
                    "--weights", "-o",      "--output-file", "--input",  "--output", "--cc",
                    "--march",   "--grid",  "--kpe",         "--seed",   "--periph", "--size",
                    "--batch",   "--threads", "--iters",     "--kernel", "--channels",
                    "--random-weights", "--prefix", "--png", "--csv", "--model", "--stage",
                    "--dense-max", "--target", "--sm", "--backend"};
                int known = 0;
                for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
                    known |= !strcmp(a, valued[k]);
                if (known)
                    fprintf(stderr, "pelkc: %s needs a value\n", a);
                else
                    fprintf(stderr, "pelkc: unknown option '%s' (see pelkc --help)\n", a);
                return 1;
            }
            if (set_option(o, a, argv[++i]))
                return 1;
        } else {
            if (pos == 3) {
                fprintf(stderr, "pelkc: unexpected argument '%s' (see pelkc --help)\n", a);
                return 1;
            }
            positional[pos++] = a;
        }
    }
    if (pos == 0) {
        fputs(usage, stderr);
        return 1;
    }
    o->cmd = positional[0];
    if (!strcmp(o->cmd, "emit")) {
        o->sub = positional[1];
        o->path = positional[2];
        if (o->sub && !strcmp(o->sub, "ptx"))
            o->target = TARGET_CUDA; /* the kernels --target cuda compiles */
    } else {
        o->path = positional[1];
        if (pos > 2) {
            fprintf(stderr, "pelkc: unexpected argument '%s'\n", positional[2]);
            return 1;
        }
    }
    return 0;
}

/* ---- check ---- */

static void print_summary(const model_spec *s, const ir_graph *g)
{
    int64_t params = 0, macs = 0;
    for (int i = 0; i < g->n_consts; i++)
        params += ir_const_numel(&g->consts[i]);
    for (int i = 0; i < g->n_ops; i++)
        macs += ir_op_macs(g, &g->ops[i]);
    printf("%s: input %dx%dx%d, stem %dx%d stride %d, %d stage%s, kpe %s, %d classes\n", s->name,
           s->channels, s->height, s->width, s->stem_kernel, s->stem_kernel, s->stem_stride,
           s->n_stages, s->n_stages > 1 ? "s" : "", kpe_mode_name(s->kpe), s->classes);
    for (int i = 0; i < s->n_stages; i++) {
        const stage_spec *st = &s->stages[i];
        char rows[512], cols[512];
        grid_format(&st->rows, rows, sizeof rows);
        grid_format(&st->cols, cols, sizeof cols);
        printf("  stage %d: dim %d, depth %d, map %dx%d, conv on %d channels, hidden %d\n", i,
               st->dim, st->depth, st->map_h, st->map_w, st->conv_channels, st->hidden);
        printf("    kernel %d, grid %dx%d (%d of %d weights per channel, %.1f%%)\n", st->kernel,
               st->rows.n, st->cols.n, st->rows.n * st->cols.n, st->kernel * st->kernel,
               100.0 * st->rows.n * st->cols.n / ((double)st->kernel * st->kernel));
        printf("    rows %s\n    cols %s\n", rows, cols);
    }
    printf("parameters: %lld (%.2f M)\n", (long long)params, params / 1e6);
    printf("multiply-adds per image (convs dense): %.3f G\n", macs / 1e9);
}

static int cmd_check(const options *o)
{
    pelk_diag d;
    model_spec s = {0};
    if (!o->path)
        return die("check needs a SPEC file");
    if (spec_load(&s, o->path, &d))
        return die(d.msg);
    ir_graph *g = build_graph(&s, NULL, &d);
    int rc = ir_verify(g, &d);
    if (!rc)
        print_summary(&s, g);
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

/* ---- compile and emit: spec -> graph -> passes ---- */

ir_graph *load_graph(const options *o, model_spec *s, int need_weights, FILE *dump, pelk_diag *d)
{
    return load_graph_timed(o, s, need_weights, dump, d, NULL);
}

ir_graph *load_graph_timed(const options *o, model_spec *s, int need_weights, FILE *dump,
                           pelk_diag *d, double times[4])
{
    double t[5] = {now_seconds()};
    if (!o->path) {
        diag_set(d, "%s needs a SPEC file", o->cmd);
        return NULL;
    }
    if (spec_load(s, o->path, d))
        return NULL;
    t[1] = now_seconds();
    st_file f = {0};
    if (o->weights && st_open(&f, o->weights, d))
        return NULL;
    ir_graph *g = build_graph(s, o->weights ? &f : NULL, d);
    t[2] = now_seconds();
    int rc = g ? 0 : -1;
    if (!rc && o->weights)
        rc = bind_weights_file(g, &f, d);
    else if (!rc && o->random_weights)
        bind_random_weights(g, o->seed);
    else if (!rc && need_weights)
        rc = diag_set(d, "%s needs --weights W.safetensors or --random-weights SEED", o->cmd);
    if (o->weights)
        st_close(&f);
    t[3] = now_seconds();
    if (rc) {
        ir_free(g);
        return NULL;
    }
    pass_options po = make_pass_options(o);
    if (run_passes(g, &po, dump, d)) {
        ir_free(g);
        return NULL;
    }
    t[4] = now_seconds();
    for (int i = 0; times && i < 4; i++)
        times[i] = t[i + 1] - t[i];
    return g;
}

static int cmd_compile(const options *o)
{
    pelk_diag d;
    model_spec s = {0};
    if (!o->out)
        return die("compile needs -o M.so");
    if (o->weights && o->random_weights)
        return die("give either --weights or --random-weights, not both");
    if (o->cc && !strcmp(o->cc, "tcc"))
        return die("compile --cc tcc: tcc compiles in process and writes no .so; use "
                   "`pelkc run SPEC` (or --cc cc / clang for a .so)");
    double t0 = now_seconds();
    ir_graph *g = load_graph(o, &s, 1, NULL, &d);
    if (!g) {
        spec_free(&s);
        return die(d.msg);
    }
    build_options bo = make_build_options(o);
    int cpu = o->target == TARGET_C;
    int rc = cpu ? build_so(g, o, o->out, &d)
                 : gpu_build_so(g, &bo, o->sm, o->target == TARGET_CUDA_EMULATE, o->out, &d);
    if (!rc)
        printf("compiled %s -> %s (%s weights, %d ops, periph %s, %s, %.2f s)\n", s.name, o->out,
               o->weights ? o->weights : "random", g->n_ops, o->periph_dense ? "dense" : "lowered",
               cpu ? (backend_is_llvm(o) ? "LLVM backend" : "C backend") : target_names[o->target],
               now_seconds() - t0);
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

#ifndef PELKC_HAVE_PTX
/* Built with -DPELKC_LLVM=OFF: the GPU backend is not linked in. */
char *gpu_emit_ptx(const gpu_plan *p, const char *model, int sm, pelk_diag *d)
{
    (void)p, (void)model, (void)sm;
    diag_set(d, "this pelkc was built without LLVM 19 (-DPELKC_LLVM=OFF): no GPU backend");
    return NULL;
}

int gpu_plan_make(const ir_graph *g, gpu_plan *p, pelk_diag *d)
{
    (void)g, (void)p;
    return diag_set(d, "this pelkc was built without LLVM 19 (-DPELKC_LLVM=OFF): no GPU backend");
}

void gpu_plan_free(gpu_plan *p) { (void)p; }

int gpu_build_so(const ir_graph *g, const build_options *o, int sm, int emulate,
                 const char *so_path, pelk_diag *d)
{
    (void)o, (void)sm, (void)emulate, (void)so_path;
    return gpu_plan_make(g, NULL, d);
}
#endif

/* The PTX module, after one comment line per kernel saying its configuration. */
static int emit_ptx(const options *o)
{
    pelk_diag d;
    model_spec s = {0};
    ir_graph *g = load_graph(o, &s, 0, NULL, &d);
    gpu_plan p;
    int rc = g ? gpu_plan_make(g, &p, &d) : -1;
    if (!rc) {
        char *ptx = gpu_emit_ptx(&p, g->name, o->sm, &d);
        rc = ptx ? 0 : -1;
        if (ptx) {
            printf("// %s: %d kernels, %d launches per image (pelkc emit ptx --sm %d)\n", g->name,
                   p.n_kernels, p.n_launches, o->sm);
            for (int i = 0; i < p.n_kernels; i++)
                printf("// %s: %s\n", p.kernels[i].name, p.kernels[i].key);
            fputs(ptx, stdout);
            free(ptx);
        }
        gpu_plan_free(&p);
    }
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

static int cmd_emit(const options *o)
{
    pelk_diag d;
    model_spec s = {0};
    if (!o->sub || (strcmp(o->sub, "ir") && strcmp(o->sub, "c") && strcmp(o->sub, "llvm") &&
                    strcmp(o->sub, "ptx")))
        return die("emit needs what to emit: 'ir', 'c', 'llvm' or 'ptx' (pelkc emit ir SPEC)");
    if (!strcmp(o->sub, "ptx"))
        return emit_ptx(o);
    int ir = !strcmp(o->sub, "ir"), llvm = !strcmp(o->sub, "llvm");
    /* emit llvm --print-after-all: pelkc's passes, as for emit ir, then the module */
    ir_graph *g = load_graph(o, &s, 0, (ir || llvm) && o->print_after_all ? stdout : NULL, &d);
    int rc = g ? 0 : -1;
    if (g && ir && !o->print_after_all) {
        char *text = ir_print(g);
        fputs(text, stdout);
        free(text);
    } else if (g && llvm) {
        rc = emit_llvm(g, o, stdout, &d);
    } else if (g && !ir) {
        build_options bo = make_build_options(o);
        rc = c_emit(g, &bo, stdout, &d);
    }
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 2 ? 0 : 1;
    if (!strcmp(o.cmd, "check"))
        return cmd_check(&o);
    if (!strcmp(o.cmd, "compile"))
        return cmd_compile(&o);
    if (!strcmp(o.cmd, "run"))
        return cmd_run(&o);
    if (!strcmp(o.cmd, "emit"))
        return cmd_emit(&o);
    if (!strcmp(o.cmd, "conv"))
        return cmd_conv(&o);
    if (!strcmp(o.cmd, "bench-conv"))
        return cmd_bench_conv(&o);
    if (!strcmp(o.cmd, "bench"))
        return cmd_bench(&o);
    if (!strcmp(o.cmd, "stats"))
        return cmd_stats(&o);
    if (!strcmp(o.cmd, "grid"))
        return cmd_grid(&o);
    if (!strcmp(o.cmd, "sweep"))
        return cmd_sweep(&o);
    if (!strcmp(o.cmd, "scaling"))
        return cmd_scaling(&o);
    if (!strcmp(o.cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "pelkc: unknown command '%s' (see pelkc --help)\n", o.cmd);
    return 1;
}
