/* Shared between the C backend's files; not used elsewhere. */
#ifndef PELK_EMIT_C_INTERNAL_H
#define PELK_EMIT_C_INTERNAL_H

#include <stdio.h>

#include "../lowered_model.h"

/* c_emit for a prepared model (the .so and libtcc builds link its weights too). */
int c_emit_lowered(const lowered_model *m, const build_options *o, FILE *out, pelk_diag *d);
/* The specialised function for box_gather op `index` (the first of its configuration). */
void emit_box_gather_fn(FILE *f, const lowered_model *m, int index);
/* Its description for the precompiled generic kernel (pelkc_host.h): op<index>_config. */
void emit_box_gather_config(FILE *f, const ir_graph *g, const ir_op *op, int index);

#endif
