/* The LLVM backend's per-model code, the LLVM IR twin of backends/c/emit_c.c:
 * run_batch runs a chunk of images through the ops in order (the early,
 * pixel-heavy ops image by image, in run_image_first; the rest layer by
 * layer: first_batched_op), calling the runtime kernels (runtime/pelkc_kernels_lib.c, compiled when
 * pelkc was built) with every shape, arena offset and weight offset a
 * literal: a matrix product once for the chunk (pkl_gemm_run, so each weight
 * panel is read once for all the images), the other ops image by image; and
 * the specialised box_gather functions (llvm_box_gather.c). pelkc_desc
 * describes the model to the runtime API (runtime/pelkc_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "../../runtime/pelkc_internal.h"
#include "llvm_internal.h"

/* A runtime kernel: its name and its C signature, one letter per parameter
 * (p pointer, i int, l int64_t, f float), all returning void. */
typedef struct kernel_sig {
    const char *name, *params;
} kernel_sig;

static const kernel_sig kernels[] = {
    {"pkl_conv2d", "ppiiippiiii"},  {"pkl_layernorm", "ppiippfi"},
    {"pkl_dwconv", "ppiiiiipppi"},  {"pkl_gemm_run", "pppii"},
    {"pkl_ln_stats", "ppiifi"},
    {"pkl_gelu", "ppli"},           {"pkl_mul_channel", "ppiipi"},
    {"pkl_add", "ppplli"},          {"pkl_batchnorm", "ppiiippppf"},
    {"pkl_avgpool", "ppii"},
};

/* pk_gemm_job's fields (runtime/pelkc_job.h): X, Y, R, S, then seven ints. */
enum { JOB_X, JOB_Y, JOB_R, JOB_S, JOB_NIMG, JOB_O, JOB_I, JOB_P, JOB_PATCH, JOB_IN_H, JOB_IN_W,
       JOB_FIELDS };

typedef struct model_gen {
    lgen *g;
    const ir_graph *graph;
    const lowered_model *lm; /* the memory plan, the weights' offsets, the split */
    LLVMValueRef input, output, arena, scratch, nthreads, null;
    LLVMValueRef nimg, nimg32; /* images in the chunk, as an i64 and as the i32 parameter */
    LLVMValueRef n;          /* i64: the image whose operands value_ref gives (a loop counter) */
    LLVMValueRef in_n, out_n, arena_n; /* image n's input, output and arena (once asked for) */
    LLVMValueRef X, Y, R, S; /* [PELKC_MAX_BATCH x ptr]: a matrix product's operands per image */
    LLVMTypeRef job_t;
    LLVMValueRef job;        /* the pk_gemm_job handed to pkl_gemm_run */
    LLVMValueRef *box_fn;    /* per op: its box_gather function, or NULL */
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

/* for (n = 0; n < nimg; n++) { ... }: in the body, value_ref and arena_ref
 * give image n's operands (the loop body is one block, so what they compute
 * once serves the rest of it). */
static void image_loop(model_gen *m, lg_loop *l)
{
    lg_for(m->g, l, lg_i64(m->g, 0), m->nimg, 1);
    m->n = l->iv;
}

static void image_loop_end(model_gen *m, lg_loop *l)
{
    lg_end(m->g, l);
    m->n = m->in_n = m->out_n = m->arena_n = NULL;
}

/* base + n * floats, computed on first use in the loop body */
static LLVMValueRef image_base(model_gen *m, LLVMValueRef *cached, LLVMValueRef base,
                               int64_t floats)
{
    if (!*cached)
        *cached = lg_at(m->g, base, lg_mul(m->g, m->n, floats));
    return *cached;
}

/* Image n's part of the arena, at offset floats. */
static LLVMValueRef arena_ref(model_gen *m, int64_t offset)
{
    return lg_atc(m->g, image_base(m, &m->arena_n, m->arena, m->lm->mem.arena_floats), offset);
}

/* Image n's copy of value v: the caller's input or output, or its arena. */
static LLVMValueRef value_ref(model_gen *m, int v)
{
    const ir_graph *graph = m->graph;
    if (v == graph->input)
        return image_base(m, &m->in_n, m->input, ir_value_numel(&graph->values[v]));
    if (v == graph->output)
        return image_base(m, &m->out_n, m->output, ir_value_numel(&graph->values[v]));
    return arena_ref(m, m->lm->mem.offset[v]);
}

/* Constant operand k of op, or NULL when the op has fewer. */
static LLVMValueRef const_ref(model_gen *m, const ir_op *op, int k)
{
    if (k >= op->n_cst)
        return m->null;
    LLVMValueRef off = lg_i64(m->g, m->lm->weights.offset[op->cst[k]]);
    return LLVMBuildInBoundsGEP2(m->g->b, m->g->i8, m->g->weights, &off, 1, "");
}

static void store_at(model_gen *m, LLVMValueRef array, LLVMValueRef v)
{
    LLVMValueRef at = LLVMBuildInBoundsGEP2(m->g->b, m->g->ptr, array, &m->n, 1, "");
    LLVMBuildStore(m->g->b, v, at);
}

/* A matrix product over the chunk (pointwise op, or patchify conv: patch >
 * 0), as emit_c.c's emit_matmul: a fused norm's statistics first, image by
 * image (pkl_ln_stats), then the images' operands gathered into X, Y, R, S
 * and one pkl_gemm_run. */
static void gen_matmul(model_gen *m, const ir_op *op, int inputs, int patch)
{
    lgen *g = m->g;
    const ir_value *in = &m->graph->values[op->in[0]], *out = &m->graph->values[op->out];
    int res = op->n_in > 1, norm = op->eps > 0;
    lg_loop l;
    if (norm) {
        image_loop(m, &l);
        LLVMValueRef a[] = {value_ref(m, op->in[0]), arena_ref(m, m->lm->mem.stats_offset),
                            lg_i32(g, in->c), lg_i32(g, in->h * in->w),
                            LLVMConstReal(g->f32, (float)op->eps), m->nthreads};
        call_kernel(m, "pkl_ln_stats", a, 6);
        image_loop_end(m, &l);
    }
    image_loop(m, &l);
    store_at(m, m->X, value_ref(m, op->in[0]));
    store_at(m, m->Y, value_ref(m, op->out));
    if (res)
        store_at(m, m->R, value_ref(m, op->in[1]));
    if (norm)
        store_at(m, m->S, arena_ref(m, m->lm->mem.stats_offset));
    image_loop_end(m, &l);
    /* the job: its literal fields a constant, then the arrays and the image count */
    LLVMValueRef f[JOB_FIELDS] = {m->null, m->null, m->null, m->null, lg_i32(g, 0),
                                  lg_i32(g, out->c), lg_i32(g, inputs), lg_i32(g, out->h * out->w),
                                  lg_i32(g, patch), lg_i32(g, in->h), lg_i32(g, in->w)};
    LLVMValueRef job = LLVMConstNamedStruct(m->job_t, f, JOB_FIELDS);
    job = LLVMBuildInsertValue(g->b, job, m->X, JOB_X, "");
    job = LLVMBuildInsertValue(g->b, job, m->Y, JOB_Y, "");
    if (res)
        job = LLVMBuildInsertValue(g->b, job, m->R, JOB_R, "");
    if (norm)
        job = LLVMBuildInsertValue(g->b, job, m->S, JOB_S, "");
    job = LLVMBuildInsertValue(g->b, job, m->nimg32, JOB_NIMG, "");
    LLVMBuildStore(g->b, job, m->job);
    /* the weight is stored packed for pk_gemm (backends/weights_blob.c) */
    LLVMValueRef a[] = {const_ref(m, op, 0), const_ref(m, op, 1), m->job, lg_i32(g, op->act),
                        m->nthreads};
    call_kernel(m, "pkl_gemm_run", a, 5);
}

/* Op for image n: one kernel call. */
static int gen_image_op(model_gen *m, const ir_op *op, int index, pelk_diag *d)
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
        LLVMValueRef a[] = {x, y, c0, c1, c2, m->scratch, nt};
        lg_call(g, m->box_fn[index], a, 7);
        break;
    }
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

/* Op for the whole chunk: a matrix product at once, any other op image by image. */
static int gen_op(model_gen *m, const ir_op *op, int index, pelk_diag *d)
{
    const ir_value *in = &m->graph->values[op->in[0]];
    if (op->kind == OP_POINTWISE) {
        gen_matmul(m, op, in->c, 0);
        return 0;
    }
    if (op_is_patchify(m->graph, op)) { /* im2col as it packs (as emit_c.c) */
        int k = m->graph->consts[op->cst[0]].shape[2];
        gen_matmul(m, op, in->c * k * k, k);
        return 0;
    }
    lg_loop l;
    image_loop(m, &l);
    int rc = gen_image_op(m, op, index, d);
    image_loop_end(m, &l);
    return rc;
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

/* A function with run_batch's parameters (in, out, nimg, arena, scratch,
 * nthreads, as pelkc_internal.h asks), and at its entry the arrays and the
 * job a matrix product hands to pkl_gemm_run. */
static LLVMValueRef gen_entry(model_gen *m, const char *name)
{
    lgen *g = m->g;
    LLVMTypeRef params[] = {g->ptr, g->ptr, g->i32, g->ptr, g->ptr, g->i32};
    LLVMValueRef fn = lg_function(g, name, g->voidt, params, 6, 1);
    m->input = LLVMGetParam(fn, 0);
    m->output = LLVMGetParam(fn, 1);
    m->nimg32 = LLVMGetParam(fn, 2);
    m->nimg = LLVMBuildSExt(g->b, m->nimg32, g->i64, "");
    m->arena = LLVMGetParam(fn, 3);
    m->scratch = LLVMGetParam(fn, 4);
    m->nthreads = LLVMGetParam(fn, 5);
    LLVMTypeRef images = LLVMArrayType(g->ptr, PELKC_MAX_BATCH);
    m->X = LLVMBuildAlloca(g->b, images, "X");
    m->Y = LLVMBuildAlloca(g->b, images, "Y");
    m->R = LLVMBuildAlloca(g->b, images, "R");
    m->S = LLVMBuildAlloca(g->b, images, "S");
    if (!m->job_t) {
        LLVMTypeRef fields[JOB_FIELDS];
        for (int f = 0; f < JOB_FIELDS; f++)
            fields[f] = f < JOB_NIMG ? g->ptr : g->i32;
        m->job_t = LLVMStructCreateNamed(g->ctx, "pk_gemm_job");
        LLVMStructSetBody(m->job_t, fields, JOB_FIELDS, 0);
    }
    m->job = LLVMBuildAlloca(g->b, m->job_t, "job");
    return fn;
}

int lg_build_model(lgen *g, const lowered_model *lm, pelk_diag *d)
{
    const ir_graph *graph = lm->g;
    for (int i = 0; i < graph->n_ops; i++)
        if (graph->ops[i].kind == OP_PERIPH_CONV)
            return diag_set(d, "LLVM backend: op %d is a periph_conv; run the lowering passes first",
                            i);
    model_gen m = {.g = g, .graph = graph, .lm = lm};
    m.null = LLVMConstNull(g->ptr);
    /* the weights blob: linked in beside the code (.so) or registered by the JIT */
    g->weights = LLVMAddGlobal(g->mod, LLVMArrayType(g->i8, 0), "pelkc_weights");
    LLVMSetAlignment(g->weights, 64);
    if (!g->jit)
        LLVMSetVisibility(g->weights, LLVMHiddenVisibility);
    m.box_fn = xcalloc((size_t)graph->n_ops + 1, sizeof *m.box_fn);
    for (int i = 0; i < graph->n_ops; i++)
        if (lm->box_config[i] == i)
            m.box_fn[i] = lg_box_gather_fn(g, lm, i);
        else if (lm->box_config[i] >= 0)
            m.box_fn[i] = m.box_fn[lm->box_config[i]];
    int rc = 0, split = lm->split;
    LLVMValueRef first = NULL;
    if (split > 0) { /* ops [0, split): one image at a time */
        first = gen_entry(&m, "run_image_first");
        for (int i = 0; i < split && !rc; i++)
            rc = gen_op(&m, &graph->ops[i], i, d);
        LLVMBuildRetVoid(g->b);
    }
    LLVMValueRef run = gen_entry(&m, "run_batch");
    if (split > 0 && !rc) {
        lg_loop l;
        lg_for(g, &l, lg_i64(g, 0), m.nimg, 1);
        int64_t in = ir_value_numel(&graph->values[graph->input]);
        int64_t out = ir_value_numel(&graph->values[graph->output]);
        LLVMValueRef args[] = {lg_at(g, m.input, lg_mul(g, l.iv, in)),
                               lg_at(g, m.output, lg_mul(g, l.iv, out)), lg_i32(g, 1),
                               lg_at(g, m.arena, lg_mul(g, l.iv, lm->mem.arena_floats)),
                               m.scratch, m.nthreads};
        lg_call(g, first, args, 6);
        lg_end(g, &l);
    }
    for (int i = split; i < graph->n_ops && !rc; i++)
        rc = gen_op(&m, &graph->ops[i], i, d);
    LLVMBuildRetVoid(g->b);
    if (!rc)
        gen_desc(g, graph, run, lm->mem.arena_floats, lm->box_scratch);
    free(m.box_fn);
    return rc;
}
