/* Shared between the C backend's files; not used elsewhere. */
#ifndef PELK_EMIT_C_INTERNAL_H
#define PELK_EMIT_C_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "../../ir/ir.h"

/* Per-thread scratch is rounded to whole cache lines so threads never share one. */
static inline int64_t pk_scratch_pitch(int64_t floats) { return (floats + 15) / 16 * 16; }

/* The first box_gather op with op i's kernel configuration (grid, kernel,
 * channels, map, kpe form): they share one specialised function (C and LLVM). */
int box_gather_config(const ir_graph *g, int i);
/* The specialised function for box_gather op `index`, and its scratch per thread. */
void emit_box_gather_fn(FILE *f, const ir_graph *g, const ir_op *op, int index, int vec);
/* Its description for the precompiled generic kernel (pelkc_host.h): op<index>_config. */
void emit_box_gather_config(FILE *f, const ir_graph *g, const ir_op *op, int index);
int64_t box_gather_scratch(const ir_graph *g, const ir_op *op, int vec);

#endif
