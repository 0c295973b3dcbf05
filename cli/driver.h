/* The compile driver the commands share: options -> spec -> graph with
 * weights -> passes, ready for a backend. */
#ifndef PELK_CLI_DRIVER_H
#define PELK_CLI_DRIVER_H

#include <stdio.h>

#include "../backends/backend.h"
#include "../frontend/spec.h"
#include "../passes/passes.h"
#include "options.h"

build_options make_build_options(const options *o);
pass_options make_pass_options(const options *o);

/* Spec -> graph with weights (or without, unless need_weights) -> passes. */
ir_graph *load_graph(const options *o, model_spec *s, int need_weights, FILE *dump, pelk_diag *d);
/* The same, and the seconds spent in each step if times is not NULL: spec, graph, weights, passes. */
ir_graph *load_graph_timed(const options *o, model_spec *s, int need_weights, FILE *dump,
                           pelk_diag *d, double times[4]);

/* One peripheral conv layer, its grid in the spec's YAML syntax, as a graph
 * with weights (seeded random if random, else from o->weights) after the
 * passes; its k' per axis into kr, kc when not NULL. */
ir_graph *load_conv_graph(const options *o, const char *grid, int kernel, kpe_mode kpe,
                          int channels, int h, int w, int random, int *kr, int *kc, pelk_diag *d);

#endif
