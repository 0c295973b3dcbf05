/* The C backend's code generator: one function per model that runs a batch
 * through the ops in order (the early, pixel-heavy ops image by image, the
 * rest layer by layer: first_batched_op), every shape, arena offset and
 * weight offset a literal. The kernels are runtime/pelkc_kernels.h. */
#include <stdlib.h>

#include "emit_c_internal.h"

typedef struct emitter {
    const ir_graph *g;
    const lowered_model *m; /* m->mem.arena_floats: per image, the values and the norms' stats */
    FILE *out;
    int host; /* build_options.host_kernels */
} emitter;

/* The C expression for image n's copy of a value: the caller's input and
 * output, or the arena, where each image has its own planned copy. */
static void value_ref(emitter *e, int v, char *buf, size_t cap)
{
    const ir_value *val = &e->g->values[v];
    if (v == e->g->input || v == e->g->output)
        snprintf(buf, cap, "%s + n * %lld", v == e->g->input ? "input" : "output",
                 (long long)ir_value_numel(val));
    else
        snprintf(buf, cap, "arena + n * %lld + %lld", (long long)e->m->mem.arena_floats,
                 (long long)e->m->mem.offset[v]);
}

static void const_ref(emitter *e, int c, char *buf, size_t cap)
{
    snprintf(buf, cap, "W(%lld)", (long long)e->m->weights.offset[c]);
}

/* A matrix product over the whole batch (pointwise op or patchify conv):
 * the images' operands gathered into pointer arrays, one pk_gemm_run, so
 * each weight panel is read once for all the images. A fused norm's
 * statistics are computed first, image by image. */
static void emit_matmul(emitter *e, const ir_op *op, const char *x, const char *y,
                        const char *res, const char *c0, const char *c1)
{
    const ir_graph *g = e->g;
    const ir_value *in = &g->values[op->in[0]], *out = &g->values[op->out];
    int patch = 0, I = in->c;
    if (op->kind == OP_CONV2D) {
        patch = g->consts[op->cst[0]].shape[2];
        I = in->c * patch * patch;
    }
    char stats[64] = "NULL";
    if (op->eps > 0) {
        snprintf(stats, sizeof stats, "arena + n * %lld + %lld", (long long)e->m->mem.arena_floats,
                 (long long)e->m->mem.stats_offset);
        fprintf(e->out, "    for (int n = 0; n < nimg; n++)\n");
        fprintf(e->out, "        pk_ln_stats(%s, %s, %d, %d, %.9gf, nthreads);\n", x, stats, in->c,
                in->h * in->w, op->eps);
    }
    fprintf(e->out, "    for (int n = 0; n < nimg; n++) {\n");
    fprintf(e->out, "        X[n] = %s;\n        Y[n] = %s;\n", x, y);
    if (res)
        fprintf(e->out, "        R[n] = %s;\n", res);
    if (op->eps > 0)
        fprintf(e->out, "        S[n] = %s;\n", stats);
    fprintf(e->out, "    }\n");
    fprintf(e->out,
            "    pk_gemm_run(%s, %s, &(pk_gemm_job){X, Y, %s, %s, nimg, %d, %d, %d, %d, %d, %d}, "
            "%d, nthreads);\n",
            c0, c1, res ? "R" : "NULL", op->eps > 0 ? "S" : "NULL", out->c, I, out->h * out->w,
            patch, in->h, in->w, op->act);
}

static void emit_op(emitter *e, const ir_op *op, int index)
{
    const ir_graph *g = e->g;
    const ir_value *in = &g->values[op->in[0]];
    char x[96], y[96], x2[96] = "", c0[64] = "", c1[64] = "NULL", c2[64] = "NULL", c3[64] = "";
    value_ref(e, op->in[0], x, sizeof x);
    value_ref(e, op->out, y, sizeof y);
    if (op->n_in > 1)
        value_ref(e, op->in[1], x2, sizeof x2);
    if (op->n_cst > 0)
        const_ref(e, op->cst[0], c0, sizeof c0);
    if (op->n_cst > 1)
        const_ref(e, op->cst[1], c1, sizeof c1);
    if (op->n_cst > 2)
        const_ref(e, op->cst[2], c2, sizeof c2);
    if (op->n_cst > 3)
        const_ref(e, op->cst[3], c3, sizeof c3);

    char *text = ir_op_text(g, op);
    fprintf(e->out, "    /*%s */\n", text);
    free(text);
    if (op->kind == OP_POINTWISE || op_is_patchify(g, op)) {
        /* the weight is stored packed for pk_gemm (backends/weights_blob.c); the
         * residual is added as the product's outputs are stored */
        emit_matmul(e, op, x, y, op->n_in > 1 ? x2 : NULL, c0, c1);
        return;
    }
    int hw = in->h * in->w;
    fprintf(e->out, "    for (int n = 0; n < nimg; n++)\n        ");
    switch (op->kind) {
    case OP_CONV2D: {
        const ir_const *w = &g->consts[op->cst[0]];
        fprintf(e->out, "pk_conv2d(%s, %s, %d, %d, %d, %s, %s, %d, %d, %d, nthreads);\n", x, y,
                in->c, in->h, in->w, c0, c1, w->shape[0], w->shape[2], op->stride);
        break;
    }
    case OP_LAYERNORM:
        fprintf(e->out, "pk_layernorm(%s, %s, %d, %d, %s, %s, %.9gf, nthreads);\n", x, y, in->c,
                hw, op->n_cst ? c0 : "NULL", op->n_cst ? c1 : "NULL", op->eps);
        break;
    case OP_DWCONV:
        fprintf(e->out, "pk_dwconv(%s, %s, %d, %d, %d, %d, %d, %s, %s, %s, nthreads);\n", x, y,
                in->c, in->h, in->w, op->g, op->kernel, c0, c1, c2);
        break;
    case OP_BOX_GATHER:
        if (e->host)
            fprintf(e->out, "pkx_box_gather(%s, %s, %s, %s, %s, scratch, nthreads, &op%d_config);\n",
                    x, y, c0, c1, c2, e->m->box_config[index]);
        else
            fprintf(e->out, "op%d_box_gather(%s, %s, %s, %s, %s, scratch, nthreads);\n",
                    e->m->box_config[index], x, y, c0, c1, c2);
        break;
    case OP_GELU:
        fprintf(e->out, "pk_gelu(%s, %s, %lld, nthreads);\n", x, y, (long long)ir_value_numel(in));
        break;
    case OP_MUL_CHANNEL:
        fprintf(e->out, "pk_mul_channel(%s, %s, %d, %d, %s, nthreads);\n", x, y, in->c, hw, c0);
        break;
    case OP_ADD: {
        int64_t n = op->g ? (int64_t)op->g * hw : ir_value_numel(in);
        fprintf(e->out, "pk_add(%s, %s, %s, %lld, %lld, nthreads);\n", x, x2, y, (long long)n,
                (long long)(ir_value_numel(in) - n));
        break;
    }
    case OP_BATCHNORM:
        fprintf(e->out, "pk_batchnorm(%s, %s, %d, %d, %d, %s, %s, %s, %s, %.9gf);\n", x, y, in->c,
                hw, op->g, c0, c1, c2, c3, op->eps);
        break;
    case OP_AVGPOOL:
        fprintf(e->out, "pk_avgpool(%s, %s, %d, %d);\n", x, y, in->c, hw);
        break;
    default:
        /* c_emit refuses graphs with other ops before getting here */
        fprintf(e->out, ";\n");
        break;
    }
}

static const char run_params[] = "(const float *input, float *output, int nimg, float *arena,\n"
                                 "                      float *scratch, int nthreads)\n{\n"
                                 "    const float *X[PELKC_MAX_BATCH], *R[PELKC_MAX_BATCH], "
                                 "*S[PELKC_MAX_BATCH];\n"
                                 "    float *Y[PELKC_MAX_BATCH];\n"
                                 "    (void)X, (void)Y, (void)R, (void)S, (void)scratch, "
                                 "(void)nthreads;\n";

int c_emit_lowered(const lowered_model *m, const build_options *o, FILE *out, pelk_diag *d)
{
    const ir_graph *g = m->g;
    for (int i = 0; i < g->n_ops; i++)
        if (g->ops[i].kind == OP_PERIPH_CONV)
            return diag_set(d, "C backend: op %d is a periph_conv; run the lowering passes first",
                            i);
    emitter e = {g, m, out, o && o->host_kernels};
    int64_t arena = m->mem.arena_floats;
    const ir_value *in = &g->values[g->input], *res = &g->values[g->output];
    int split = m->split;

    fprintf(out, "/* %s: generated by pelkc. A batch per call, ops [0, %d) image by image, ops\n"
                 " * [%d, %d) layer by layer; NCHW; weights in the blob pelkc_weights (%lld bytes),\n"
                 " * activations in a %lld-float arena per image. */\n",
            g->name, split, split, g->n_ops, (long long)m->weights.total, (long long)arena);
    if (e.host) /* orchestration only: the kernels are pelkc's, precompiled */
        fprintf(out, "#include <stddef.h>\n#include \"pelkc_internal.h\"\n#include \"pelkc_host.h\"\n\n");
    else
        fprintf(out,
                "#define PK_VEC %d\n#include \"pelkc_internal.h\"\n#include \"pelkc_kernels.h\"\n"
                "#include \"pelkc_gemm.h\"\n\n",
                m->vec);
    fprintf(out, "extern const unsigned char pelkc_weights[] "
                 "__attribute__((visibility(\"hidden\"), aligned(64)));\n");
    fprintf(out, "#define W(offset) ((const float *)(pelkc_weights + (offset)))\n\n");
    for (int i = 0; i < g->n_ops; i++)
        if (m->box_config[i] == i) {
            if (e.host)
                emit_box_gather_config(out, g, &g->ops[i], i);
            else
                emit_box_gather_fn(out, m, i);
        }
    if (split > 0) { /* ops [0, split): one image at a time */
        fprintf(out, "static void run_image_first%s", run_params);
        for (int i = 0; i < split; i++)
            emit_op(&e, &g->ops[i], i);
        fprintf(out, "}\n\n");
    }
    fprintf(out, "static void run_batch%s", run_params);
    if (split > 0)
        fprintf(out,
                "    for (int i = 0; i < nimg; i++) /* ops 0..%d image by image */\n"
                "        run_image_first(input + (size_t)i * %lld, output + (size_t)i * %lld, 1,\n"
                "                        arena + (size_t)i * %lld, scratch, nthreads);\n",
                split - 1, (long long)ir_value_numel(in), (long long)ir_value_numel(res),
                (long long)arena);
    for (int i = split; i < g->n_ops; i++)
        emit_op(&e, &g->ops[i], i);
    fprintf(out, "}\n\n");
    fprintf(out,
            "const pelkc_model_desc pelkc_desc = {\"%s\", %d, %d, %d, %d, %d, %d, %lld, %lld, "
            "run_batch};\n",
            g->name, in->c, in->h, in->w, res->c, res->h, res->w, (long long)arena,
            (long long)m->box_scratch);
    if (ferror(out))
        return diag_set(d, "write error while emitting C");
    return 0;
}

int c_emit(const ir_graph *g, const build_options *o, FILE *out, pelk_diag *d)
{
    lowered_model m;
    lowered_model_prepare(g, o, LOWERED_FOR_CPU, &m);
    int rc = c_emit_lowered(&m, o, out, d);
    lowered_model_free(&m);
    return rc;
}
