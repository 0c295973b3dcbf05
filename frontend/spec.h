/* The model spec: what a YAML file (spec/SPEC.md) says, checked and with the
 * derived sizes filled in. Parsing is in spec.c; nothing here knows about IR. */
#ifndef PELK_SPEC_H
#define PELK_SPEC_H

#include "../ir/grid.h"

typedef enum kpe_mode { KPE_NONE, KPE_CONSTANT, KPE_BORDER } kpe_mode;

typedef struct stage_spec {
    int dim, depth, kernel;
    sharing_grid rows, cols; /* rows index the kernel's height, cols its width */
    /* derived */
    int conv_channels; /* g = floor(partial * dim): channels through the conv */
    int hidden;        /* floor(mlp_ratio * dim) */
    int map_h, map_w;  /* feature map inside this stage */
} stage_spec;

typedef struct model_spec {
    char *name;
    int channels, height, width; /* input, NCHW */
    int stem_kernel, stem_stride;
    int n_stages;
    stage_spec *stages;
    double partial, mlp_ratio;
    char partial_text[40], mlp_ratio_text[40]; /* as written: sizes are floored exactly */
    kpe_mode kpe;
    int classes;
} model_spec;

/* Parse and check a spec file. On error d holds "file:line:col: message". */
int spec_load(model_spec *s, const char *path, pelk_diag *d);
/* The same from text in memory; `filename` is only used in messages. */
int spec_parse(model_spec *s, const char *text, size_t len, const char *filename, pelk_diag *d);
void spec_free(model_spec *s);

/* A grid written in the spec's YAML syntax (a rule, a list, or {rows, cols}),
 * e.g. from a command-line flag. */
int grid_parse_text(const char *text, int kernel, sharing_grid *rows, sharing_grid *cols,
                    pelk_diag *d);

const char *kpe_mode_name(kpe_mode m);

#endif
