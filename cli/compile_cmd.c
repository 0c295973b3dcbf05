/* pelkc check, compile and emit: a spec through the compile driver (driver.c)
 * into a summary, a standalone .so, or text (the IR, C, LLVM IR or PTX). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../frontend/build_graph.h"
#include "cli.h"

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

int cmd_check(const options *o)
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

int cmd_compile(const options *o)
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
    int rc = backend_build_so(o->be, g, &bo, o->out, &d);
    if (!rc)
        printf("compiled %s -> %s (%s weights, %d ops, periph %s, backend %s, %.2f s)\n", s.name,
               o->out, o->weights ? o->weights : "random", g->n_ops,
               o->periph_dense ? "dense" : "lowered", o->be->name, now_seconds() - t0);
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

int cmd_emit(const options *o)
{
    pelk_diag d;
    model_spec s = {0};
    if (o->sub && !strcmp(o->sub, "train")) /* one conv's training kernels: cli/train_cmd.c */
        return cmd_emit_train(o);
    if (!o->sub || (strcmp(o->sub, "ir") && strcmp(o->sub, "c") && strcmp(o->sub, "llvm") &&
                    strcmp(o->sub, "ptx")))
        return die("emit needs what to emit: 'ir', 'c', 'llvm', 'ptx' or 'train' (pelkc emit ir SPEC)");
    int ir = !strcmp(o->sub, "ir"), llvm = !strcmp(o->sub, "llvm");
    /* emit llvm --print-after-all: pelkc's passes, as for emit ir, then the module */
    ir_graph *g = load_graph(o, &s, 0, (ir || llvm) && o->print_after_all ? stdout : NULL, &d);
    int rc = g ? 0 : -1;
    if (g && ir && !o->print_after_all) {
        char *text = ir_print(g);
        fputs(text, stdout);
        free(text);
    } else if (g && !ir) { /* C, LLVM IR or PTX: the backend parse_args chose for the kind */
        build_options bo = make_build_options(o);
        rc = backend_emit(o->be, g, &bo, stdout, &d);
    }
    ir_free(g);
    spec_free(&s);
    return rc ? die(d.msg) : 0;
}

