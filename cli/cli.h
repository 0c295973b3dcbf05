/* Shared by the pelkc command's files: parsed options and helpers. */
#ifndef PELK_CLI_H
#define PELK_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "../backends/backend.h"
#include "../frontend/spec.h"
#include "../passes/passes.h"
#include "../runtime/pelkc_model.h"

typedef struct options {
    const char *cmd, *sub, *path;
    const char *weights, *out, *input, *output, *cc, *march, *grid, *kpe, *prefix;
    const char *backend; /* "c" or "llvm" */
    int random_weights, print_after_all, keep_temps, verbose, periph_dense;
    uint64_t seed;
    int batch, threads, iters, kernel, channels, height, width;
} options;

int die(const char *msg);
double now_seconds(void);
build_options make_build_options(const options *o);
pass_options make_pass_options(const options *o);

/* A compiled model loaded with dlopen, or JIT-compiled (--backend llvm): its API by name. */
typedef struct model_api {
    void *so;
    struct llvm_jit *jit;
    pelkc_status (*create_abi)(int32_t, pelkc_model **);
    void (*free)(pelkc_model *);
    pelkc_status (*input_shape)(const pelkc_model *, int32_t *, int32_t *, int32_t *);
    pelkc_status (*output_shape)(const pelkc_model *, int32_t *, int32_t *, int32_t *);
    pelkc_status (*set_threads)(pelkc_model *, int32_t);
    pelkc_status (*run_f32)(pelkc_model *, const float *, int32_t, float *);
    const char *(*last_error)(const pelkc_model *);
    const char *(*name)(void);
    pelkc_status (*workspace_bytes)(const pelkc_model *, int64_t *); /* may be NULL */
} model_api;

/* prefix: the --prefix the .so was compiled with (NULL for none). */
int load_model_api(model_api *api, const char *path, const char *prefix, pelk_diag *d);
/* Create through the ABI-checked entry point. */
pelkc_status api_create(const model_api *api, pelkc_model **m);
void fill_random(float *x, int64_t n, uint64_t seed);

/* Spec -> graph with weights (or without, unless need_weights) -> passes. */
ir_graph *load_graph(const options *o, model_spec *s, int need_weights, FILE *dump, pelk_diag *d);
double peak_rss_mb(void);
/* Sort run times in place and return their median. */
double sort_median(double *times, int n);

/* --backend (backend_cmd.c): build a .so with the chosen backend; print the
 * LLVM module; get a graph's API (C: a temporary .so, loaded; LLVM: the JIT). */
int backend_is_llvm(const options *o);
const char *backend_name(const options *o);
int build_so(const ir_graph *g, const options *o, const char *path, pelk_diag *d);
int emit_llvm(const ir_graph *g, const options *o, FILE *out, pelk_diag *d);
int open_graph_model(const ir_graph *g, const options *o, model_api *api, pelk_diag *d);
void close_model_api(model_api *api);

int cmd_run(const options *o);
int cmd_bench(const options *o);
int cmd_conv(const options *o);
int cmd_bench_conv(const options *o);

#endif
