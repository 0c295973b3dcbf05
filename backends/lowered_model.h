/* A lowered graph as the backends read it, prepared once per build and
 * shared by the C, LLVM and GPU backends: the memory plan, the weights
 * blob's layout, the ops run image by image, and each box_gather's plan and
 * shared configuration. No backend plans these itself. */
#ifndef PELK_LOWERED_MODEL_H
#define PELK_LOWERED_MODEL_H

#include <stdint.h>

#include "../ir/box_plan.h"
#include "../passes/passes.h"
#include "backend.h"

/* Per-thread scratch is rounded to whole cache lines so threads never share one. */
static inline int64_t pk_scratch_pitch(int64_t floats) { return (floats + 15) / 16 * 16; }

/* Who reads the model: the layout differs between CPU and GPU. */
typedef enum lowered_for {
    LOWERED_FOR_CPU, /* matrix-product weights packed for pk_gemm; box plans in o->vec vectors */
    LOWERED_FOR_GPU  /* every constant plain; box plans unblocked (vec 1): one thread a float */
} lowered_for;

typedef struct lowered_model {
    const ir_graph *g;
    int vec;               /* floats per vector the box plans are blocked for */
    memory_plan mem;       /* arena offsets per value, per image (passes/plan_memory.c) */
    weight_layout weights; /* the blob (backends/weights_blob.c) */
    int split;             /* ops [0, split) run image by image, the rest layer by layer */
    int *box_config;       /* per op: the first box_gather op with its kernel configuration
                              (they share one specialised function); -1 for other ops */
    box_plan *box;         /* per op: its box plan (box_gather ops; zero for the others) */
    int64_t box_scratch;   /* floats of scratch per thread: the largest plan's, pitched */
} lowered_model;

/* o may be NULL (vec 8); the model refers to g, which must outlive it. */
void lowered_model_prepare(const ir_graph *g, const build_options *o, lowered_for use,
                           lowered_model *m);
void lowered_model_free(lowered_model *m);

/* A CPU backend's .so build (build_tools.c): the model prepared, a private build directory
 * made, build() run in it, then the directory kept or its files `names` removed. */
typedef int so_builder(const char *dir, const lowered_model *m, const build_options *o,
                       const char *so_path, pelk_diag *d);
int build_so_in_temp(const ir_graph *g, const build_options *o, const char *so_path,
                     so_builder *build, const char *const names[], size_t n, pelk_diag *d);

#endif
