/* The LLVM backend's per-model code, the LLVM IR twin of backends/c/emit_c.c:
 * run_image runs one image through the ops in order (run_batch calls it per
 * image), calling the runtime
 * kernels (runtime/pelkc_kernels_lib.c, compiled when pelkc was built) with
 * every shape, arena offset and weight offset a literal, and the specialised
 * box_gather functions (llvm_box_gather.c); pelkc_desc describes the model
 * to the runtime API (runtime/pelkc_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "../../passes/passes.h"
#include "../c/emit_c_internal.h"
#include "llvm_internal.h"

/* A runtime kernel: its name and its C signature, one letter per parameter
 * (p pointer, i int, l int64_t, f float), all returning void. */
typedef struct kernel_sig {
    const char *name, *params;
} kernel_sig;

static const kernel_sig kernels[] = {
    {"pkl_conv2d", "ppiiippiiii"},  {"pkl_layernorm", "ppiippfi"},
    {"pkl_dwconv", "ppiiiiipppi"},  {"pkl_linear", "ppppppiiiiiiii"},
    {"pkl_ln_stats", "ppiifi"},
    {"pkl_gelu", "ppli"},           {"pkl_mul_channel", "ppiipi"},
    {"pkl_add", "ppplli"},          {"pkl_batchnorm", "ppiiippppf"},
    {"pkl_avgpool", "ppii"},
};

typedef struct model_gen {
    lgen *g;
    const ir_graph *graph;
    memory_plan plan;
    weight_layout weights;
    LLVMValueRef input, output, arena, nthreads, null;
    LLVMValueRef *box_fn; /* per op: its box_gather function, or NULL */
} model_gen;

/* Call kernel `name` with args, checked against its signature. */
static void call_kernel(model_gen *m, const char *name, LLVMValueRef *args, int n)
{
    lgen *g = m->g;
    const kernel_sig *k = NULL;
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (!strcmp(kernels[i].name, name))
            k = &kernels[i];
    if (!k || (int)strlen(k->params) != n)
        abort(); /* an unknown kernel or a wrong argument count is a bug in this file */
    LLVMTypeRef params[16];
    for (int i = 0; i < n; i++)
        params[i] = k->params[i] == 'p' ? g->ptr : k->params[i] == 'i' ? g->i32
                  : k->params[i] == 'l' ? g->i64 : g->f32;
    lg_call(g, lg_declare(g, name, g->voidt, params, n), args, n);
}

static LLVMValueRef value_ref(model_gen *m, int v)
{
    if (v == m->graph->input)
        return m->input;
    if (v == m->graph->output)
        return m->output;
    return lg_atc(m->g, m->arena, m->plan.offset[v]);
}

/* Constant operand k of op, or NULL when the op has fewer. */
static LLVMValueRef const_ref(model_gen *m, const ir_op *op, int k)
{
    if (k >= op->n_cst)
        return m->null;
    LLVMValueRef off = lg_i64(m->g, m->weights.offset[op->cst[k]]);
    return LLVMBuildInBoundsGEP2(m->g->b, m->g->i8, m->g->weights, &off, 1, "");
}

/* A matrix product (pointwise op, or patchify conv: patch > 0) through
 * pkl_linear, its fused LayerNorm's statistics first (pkl_ln_stats). */
static void gen_linear(model_gen *m, const ir_op *op, LLVMValueRef x, LLVMValueRef y,
                       LLVMValueRef res, LLVMValueRef w, LLVMValueRef bias, int inputs, int patch)
{
    lgen *g = m->g;
    const ir_value *in = &m->graph->values[op->in[0]], *out = &m->graph->values[op->out];
    LLVMValueRef stats = m->null;
    if (op->eps > 0) {
        stats = lg_atc(g, m->arena, m->plan.stats_offset);
        LLVMValueRef a[] = {x, stats, lg_i32(g, in->c), lg_i32(g, in->h * in->w),
                            LLVMConstReal(g->f32, (float)op->eps), m->nthreads};
        call_kernel(m, "pkl_ln_stats", a, 6);
    }
    LLVMValueRef a[] = {w, bias, x, y, res, stats, lg_i32(g, out->c), lg_i32(g, inputs),
                        lg_i32(g, out->h * out->w), lg_i32(g, patch), lg_i32(g, in->h),
                        lg_i32(g, in->w), lg_i32(g, op->act), m->nthreads};
    call_kernel(m, "pkl_linear", a, 14);
}

static int gen_op(model_gen *m, const ir_op *op, int index, pelk_diag *d)
{
    lgen *g = m->g;
    const ir_graph *graph = m->graph;
    const ir_value *in = &graph->values[op->in[0]];
    LLVMValueRef x = value_ref(m, op->in[0]), y = value_ref(m, op->out);
    LLVMValueRef x2 = op->n_in > 1 ? value_ref(m, op->in[1]) : NULL;
    LLVMValueRef c0 = const_ref(m, op, 0), c1 = const_ref(m, op, 1), c2 = const_ref(m, op, 2),
                 c3 = const_ref(m, op, 3), nt = m->nthreads;
    int hw = in->h * in->w;
    int64_t numel = ir_value_numel(in);
    switch (op->kind) {
    case OP_CONV2D: {
        const ir_const *w = &graph->consts[op->cst[0]];
        if (op_is_patchify(graph, op)) { /* one matrix product, im2col as it packs (as emit_c.c) */
            int k = w->shape[2];
            gen_linear(m, op, x, y, m->null, c0, c1, in->c * k * k, k);
            break;
        }
        LLVMValueRef a[] = {x, y, lg_i32(g, in->c), lg_i32(g, in->h), lg_i32(g, in->w), c0, c1,
                            lg_i32(g, w->shape[0]), lg_i32(g, w->shape[2]), lg_i32(g, op->stride), nt};
        call_kernel(m, "pkl_conv2d", a, 11);
        break;
    }
    case OP_LAYERNORM: {
        LLVMValueRef a[] = {x, y, lg_i32(g, in->c), lg_i32(g, hw), c0, c1,
                            LLVMConstReal(g->f32, (float)op->eps), nt};
        call_kernel(m, "pkl_layernorm", a, 8);
        break;
    }
    case OP_DWCONV: {
        LLVMValueRef a[] = {x, y, lg_i32(g, in->c), lg_i32(g, in->h), lg_i32(g, in->w),
                            lg_i32(g, op->g), lg_i32(g, op->kernel), c0, c1, c2, nt};
        call_kernel(m, "pkl_dwconv", a, 11);
        break;
    }
    case OP_BOX_GATHER: {
        LLVMValueRef a[] = {x, y, c0, c1, c2, LLVMGetParam(g->fn, 3), nt};
        lg_call(g, m->box_fn[index], a, 7);
        break;
    }
    case OP_POINTWISE:
        /* the weight is stored packed for pk_gemm (backends/weights_blob.c) */
        gen_linear(m, op, x, y, x2 ? x2 : m->null, c0, c1, in->c, 0);
        break;
    case OP_GELU: {
        LLVMValueRef a[] = {x, y, lg_i64(g, numel), nt};
        call_kernel(m, "pkl_gelu", a, 4);
        break;
    }
    case OP_MUL_CHANNEL: {
        LLVMValueRef a[] = {x, y, lg_i32(g, in->c), lg_i32(g, hw), c0, nt};
        call_kernel(m, "pkl_mul_channel", a, 6);
        break;
    }
    case OP_ADD: {
        int64_t n = op->g ? (int64_t)op->g * hw : numel;
        LLVMValueRef a[] = {x, x2, y, lg_i64(g, n), lg_i64(g, numel - n), nt};
        call_kernel(m, "pkl_add", a, 6);
        break;
    }
    case OP_BATCHNORM: {
        LLVMValueRef a[] = {x, y, lg_i32(g, in->c), lg_i32(g, hw), lg_i32(g, op->g), c0, c1, c2, c3,
                            LLVMConstReal(g->f32, (float)op->eps)};
        call_kernel(m, "pkl_batchnorm", a, 10);
        break;
    }
    case OP_AVGPOOL: {
        LLVMValueRef a[] = {x, y, lg_i32(g, in->c), lg_i32(g, hw)};
        call_kernel(m, "pkl_avgpool", a, 4);
        break;
    }
    default:
        return diag_set(d, "LLVM backend: op %d is a %s, which has no kernel; run the lowering "
                           "passes first", index, ir_op_name(op->kind));
    }
    return 0;
}

/* pelkc_desc: the descriptor pelkc_runtime.c reads (pelkc_internal.h's layout). */
static void gen_desc(lgen *g, const ir_graph *graph, LLVMValueRef run_batch, int64_t arena,
                     int64_t scratch)
{
    size_t len = strlen(graph->name) + 1;
    LLVMValueRef text = LLVMConstStringInContext(g->ctx, graph->name, (unsigned)len - 1, 0);
    LLVMValueRef name = LLVMAddGlobal(g->mod, LLVMTypeOf(text), "pelkc_model_name_text");
    LLVMSetInitializer(name, text);
    LLVMSetLinkage(name, LLVMPrivateLinkage);
    LLVMSetGlobalConstant(name, 1);
    LLVMSetUnnamedAddress(name, LLVMGlobalUnnamedAddr);
    LLVMTypeRef fields[] = {g->ptr, g->i32, g->i32, g->i32, g->i32, g->i32, g->i32,
                            g->i64, g->i64, g->ptr};
    LLVMTypeRef desc_t = LLVMStructTypeInContext(g->ctx, fields, 10, 0);
    const ir_value *in = &graph->values[graph->input], *res = &graph->values[graph->output];
    LLVMValueRef vals[] = {name, lg_i32(g, in->c), lg_i32(g, in->h), lg_i32(g, in->w),
                           lg_i32(g, res->c), lg_i32(g, res->h), lg_i32(g, res->w),
                           lg_i64(g, arena), lg_i64(g, scratch), run_batch};
    LLVMValueRef desc = LLVMAddGlobal(g->mod, desc_t, "pelkc_desc");
    LLVMSetInitializer(desc, LLVMConstStructInContext(g->ctx, vals, 10, 0));
    LLVMSetGlobalConstant(desc, 1);
    if (!g->jit)
        LLVMSetVisibility(desc, LLVMHiddenVisibility);
}

/* run_batch(in, out, nimg, arena, scratch, nthreads), as pelkc_internal.h
 * asks: here one image after another through run_image, in the arena's first
 * image (the C backend runs the batch layer by layer instead). */
static LLVMValueRef gen_run_batch(lgen *g, const ir_graph *graph, LLVMValueRef run_image)
{
    LLVMTypeRef params[] = {g->ptr, g->ptr, g->i32, g->ptr, g->ptr, g->i32};
    LLVMValueRef fn = lg_function(g, "run_batch", g->voidt, params, 6, 1);
    LLVMValueRef nimg = LLVMBuildSExt(g->b, LLVMGetParam(fn, 2), g->i64, "");
    lg_loop l;
    lg_for(g, &l, lg_i64(g, 0), nimg, 1);
    LLVMValueRef a[] = {
        lg_at(g, LLVMGetParam(fn, 0), lg_mul(g, l.iv, ir_value_numel(&graph->values[graph->input]))),
        lg_at(g, LLVMGetParam(fn, 1), lg_mul(g, l.iv, ir_value_numel(&graph->values[graph->output]))),
        LLVMGetParam(fn, 3), LLVMGetParam(fn, 4), LLVMGetParam(fn, 5)};
    lg_call(g, run_image, a, 5);
    lg_end(g, &l);
    LLVMBuildRetVoid(g->b);
    return fn;
}

int lg_build_model(lgen *g, const ir_graph *graph, pelk_diag *d)
{
    for (int i = 0; i < graph->n_ops; i++)
        if (graph->ops[i].kind == OP_PERIPH_CONV)
            return diag_set(d, "LLVM backend: op %d is a periph_conv; run the lowering passes first",
                            i);
    model_gen m = {.g = g, .graph = graph};
    m.null = LLVMConstNull(g->ptr);
    /* the weights blob: linked in beside the code (.so) or registered by the JIT */
    g->weights = LLVMAddGlobal(g->mod, LLVMArrayType(g->i8, 0), "pelkc_weights");
    LLVMSetAlignment(g->weights, 64);
    if (!g->jit)
        LLVMSetVisibility(g->weights, LLVMHiddenVisibility);
    int64_t scratch = 0;
    m.box_fn = xcalloc((size_t)graph->n_ops + 1, sizeof *m.box_fn);
    for (int i = 0; i < graph->n_ops; i++)
        if (graph->ops[i].kind == OP_BOX_GATHER) {
            int first = box_gather_config(graph, i);
            if (first == i)
                m.box_fn[i] = lg_box_gather_fn(g, graph, &graph->ops[i], i);
            m.box_fn[i] = m.box_fn[first];
            int64_t s = pk_scratch_pitch(box_gather_scratch(graph, &graph->ops[i], g->vec));
            scratch = s > scratch ? s : scratch;
        }
    plan_memory(graph, &m.plan);
    layout_weights(graph, &m.weights);
    LLVMTypeRef params[] = {g->ptr, g->ptr, g->ptr, g->ptr, g->i32};
    LLVMValueRef run = lg_function(g, "run_image", g->voidt, params, 5, 1);
    m.input = LLVMGetParam(run, 0);
    m.output = LLVMGetParam(run, 1);
    m.arena = LLVMGetParam(run, 2);
    m.nthreads = LLVMGetParam(run, 4);
    int rc = 0;
    for (int i = 0; i < graph->n_ops && !rc; i++)
        rc = gen_op(&m, &graph->ops[i], i, d);
    LLVMBuildRetVoid(g->b);
    if (!rc)
        gen_desc(g, graph, gen_run_batch(g, graph, run), m.plan.arena_floats, scratch);
    memory_plan_free(&m.plan);
    weight_layout_free(&m.weights);
    free(m.box_fn);
    return rc;
}
