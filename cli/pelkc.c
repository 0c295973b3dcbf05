/* pelkc: main. The usage text, the options parsed into an `options`, and the
 * dispatch to the command's file: check, compile and emit (compile_cmd.c), run
 * (run_cmd.c), bench (bench_cmd.c), conv and bench-conv (conv_cmd.c), stats,
 * grid, sweep, scaling. Each command reads straight through the folders:
 * frontend (spec, weights) -> ir -> passes -> backends (driver.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/version.h"
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
    "  emit train --kernel K --grid G --channels C [--kpe M]\n"
    "                                      print the C of one peripheral conv's training kernels\n"
    "                                      (forward, input and parameter gradients; spec/TRAIN.md)\n"
    "  compile-train --kernel K --grid G --channels C [--kpe M] -o T.so\n"
    "                                      build them into a .so (cc -O3 -march -fopenmp)\n"
    "  conv --kernel K --grid G --channels C --size HxW --weights W --input X.npy --output Y.npy\n"
    "                                      run one peripheral conv layer (weights: 'weight'\n"
    "                                      [C,1,k'r,k'c], 'bias' [C], 'kpe' [C,K,K] with --kpe)\n"
    "  bench-conv --kernel K --grid G --channels C --size HxW [--batch N] [--threads T] [--iters N]\n"
    "                                      time one peripheral conv layer; last line median_ms: X\n"
    "  bench SPEC [--batch N] [--threads T] [--iters N]\n"
    "                                      compile with random weights and time the whole network;\n"
    "                                      last line median_ms: X\n"
    "  stats SPEC [--weights W] [--periph dense]\n"
    "                                      per-op table of the compiled network: output shape,\n"
    "                                      stored params, multiply-adds executed and with dense\n"
    "                                      kernels, output bytes; totals; each peripheral conv's\n"
    "                                      parameter saving; with --weights, the table of the\n"
    "                                      network W builds and W's non-zero values (a sparse\n"
    "                                      checkpoint's parameter count), before and after the folds\n"
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
    "  -o, --output-file M.so   where compile (and compile-train) writes the library\n"
    "  --weights W              float32 safetensors with the spec's weight names\n"
    "  --random-weights SEED    seeded random weights (for demos and benchmarks)\n"
    "  --periph lowered|dense   peripheral convs as box sums plus gather (default), or as\n"
    "                           dense depthwise convs over the expanded kernel (the baseline)\n"
    "  --grid G                 a sharing grid in the spec's YAML syntax, e.g. '{center: 5, base: 2}'\n"
    "                           or '[9,8,4,2,1,1,1,1,1,2,4,8,9]' or '{rows: [...], cols: [...]}'\n"
    "  --kpe none|constant|border  positional embedding of `conv` and the training kernels\n"
    "                           (default none)\n"
    "  --target c|cuda|cuda-emulate  what compile (and run SPEC, bench, conv) builds: C for\n"
    "                           this CPU (default); PTX run through the CUDA driver (dlopen'd\n"
    "                           at pelkc_create); or the same GPU kernels and launches run on\n"
    "                           the CPU (for testing)\n"
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
    "Formats: spec/SPEC.md (specs), spec/IR.md (IR), spec/TRAIN.md (training kernels),\n"
    "         runtime/pelkc_model.h (C API).\n";

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
        while (t <= TARGET_CUDA_EMULATE && strcmp(v, target_name((target_kind)t)))
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

/* The backend the options name: --target's GPU kernels, else --backend, with
 * --cc tcc meaning libtcc; emit's kind names its own. */
static const char *backend_for(const options *o)
{
    int tcc = o->cc && !strcmp(o->cc, "tcc");
    if (!strcmp(o->cmd, "emit") && o->sub && !strcmp(o->sub, "c"))
        return tcc ? "tcc" : "c";
    if (!strcmp(o->cmd, "emit") && o->sub && !strcmp(o->sub, "llvm"))
        return "llvm";
    if (o->target != TARGET_C)
        return target_name(o->target);
    if (!strcmp(o->backend, "llvm"))
        return "llvm";
    return tcc ? "tcc" : "c";
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
    o->be = backend_find(backend_for(o));
    return 0;
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
    if (!strcmp(o.cmd, "compile-train"))
        return cmd_compile_train(&o);
    if (!strcmp(o.cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "pelkc: unknown command '%s' (see pelkc --help)\n", o.cmd);
    return 1;
}
