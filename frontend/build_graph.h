/* From a checked spec to the IR graph it describes (spec/SPEC.md, "The
 * network"), and the weights that fill the graph's constants. */
#ifndef PELK_BUILD_GRAPH_H
#define PELK_BUILD_GRAPH_H

#include <stdint.h>

#include "../ir/ir.h"
#include "safetensors.h"
#include "spec.h"

/* The graph with one constant per weight name, shapes only (no data). If a
 * weights file is given, blocks whose checkpoint carries the optional
 * training-time tensors (conv.bn.*, conv.small.weight, conv.small_bn.*) get
 * those ops too, for the fold passes to remove. NULL with d set on a bad
 * optional tensor. */
ir_graph *build_graph(const model_spec *s, const st_file *weights, pelk_diag *d);

/* One peripheral conv layer on all its channels: input -> periph_conv -> output,
 * constants 'weight' [C,1,k'r,k'c], 'bias' [C] and, unless kpe is none, 'kpe' [C,k,k]. */
ir_graph *build_conv_graph(int kernel, const sharing_grid *rows, const sharing_grid *cols,
                           int channels, int h, int w, kpe_mode kpe);

/* Fill every constant from a safetensors file. Missing, extra, misshapen and
 * non-F32 tensors are errors naming the tensor. */
int bind_weights(ir_graph *g, const char *path, pelk_diag *d);
int bind_weights_file(ir_graph *g, const st_file *f, pelk_diag *d);

/* Fill every constant with seeded random values scaled so activations stay O(1). */
void bind_random_weights(ir_graph *g, uint64_t seed);

#endif
