/* The pass pipeline. A pass is a file; each rewrites the graph in place and
 * keeps it verifiable. Passes work on structure-only graphs too (constants
 * without data): they then create the new constants' shapes only. */
#ifndef PELK_PASSES_H
#define PELK_PASSES_H

#include <stdint.h>
#include <stdio.h>

#include "../ir/ir.h"

typedef struct pass_options {
    int periph_dense; /* lower peripheral convs to dense depthwise convs */
    int keep_norms;   /* skip fuse-norm (for backends whose layers cannot normalise their input) */
} pass_options;

typedef struct pass {
    const char *name;
    const char *what; /* one line for --help and the IR dumps */
    int (*run)(ir_graph *g, const pass_options *o, pelk_diag *d);
} pass;

int pass_fold_bn(ir_graph *g, const pass_options *o, pelk_diag *d);
int pass_fold_kpe(ir_graph *g, const pass_options *o, pelk_diag *d);
int pass_fold_small(ir_graph *g, const pass_options *o, pelk_diag *d);
int pass_lower_periph(ir_graph *g, const pass_options *o, pelk_diag *d);
int pass_fuse_box_gather(ir_graph *g, const pass_options *o, pelk_diag *d);
int pass_fold_affine(ir_graph *g, const pass_options *o, pelk_diag *d);
int pass_fuse_epilogue(ir_graph *g, const pass_options *o, pelk_diag *d);
int pass_fuse_norm(ir_graph *g, const pass_options *o, pelk_diag *d);

/* Run the pipeline; if dump is non-NULL, print the IR before the first pass
 * and after each pass to it. Verifies after every pass. */
int run_passes(ir_graph *g, const pass_options *o, FILE *dump, pelk_diag *d);

/* Memory plan: one arena per image, each intermediate value at an offset
 * (in floats). The graph's input and output live in the caller's buffers.
 * After the values, the statistics of the LayerNorms fused into a matrix
 * product (fuse-norm): a mean and a 1/std per input pixel, one op's at a
 * time, so the area is as large as the largest op's need. */
typedef struct memory_plan {
    int64_t *offset;      /* per value; -1 for the input and output */
    int64_t stats_offset; /* the fused norms' statistics */
    int64_t stats_floats; /* 0 when no op has a fused norm */
    int64_t arena_floats; /* per image: the values, then the statistics */
} memory_plan;

void plan_memory(const ir_graph *g, memory_plan *p);
void memory_plan_free(memory_plan *p);

#endif
