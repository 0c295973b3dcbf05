/* Shared by the pelkc command's files: parsed options and helpers. */
#ifndef PELK_CLI_H
#define PELK_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "../backends/backend.h"
#include "../frontend/spec.h"
#include "../passes/passes.h"
#include "../runtime/pelkc_model.h"

enum { MAX_LIST = 64 }; /* --grid and --kernel given at most this often */

/* What compile builds (--target). `emit ptx` prints TARGET_CUDA's kernels. */
typedef enum target_kind {
    TARGET_C,            /* the default: C (or LLVM, --backend) for this CPU */
    TARGET_CUDA,         /* PTX, run through the CUDA driver */
    TARGET_CUDA_EMULATE, /* the same GPU kernels and launches, run on the CPU */
} target_kind;

typedef struct options {
    const char *cmd, *sub, *path;
    const char *weights, *out, *input, *output, *cc, *march, *grid, *kpe, *prefix;
    target_kind target;
    int sm;             /* GPU architecture for PTX: 80 or 90 */
    const char *backend; /* "c" or "llvm" */
    int random_weights, print_after_all, keep_temps, verbose, periph_dense;
    uint64_t seed;
    int batch, threads, iters, kernel, channels, height, width;
    const char *cc_flag;      /* --cc as given on the command line (NULL: not given) */
    int stage;                /* --stage I (-1: not given) */
    const char *png, *csv, *model;
    const char *grids[MAX_LIST]; /* every --grid, in order (sweep) */
    int n_grids;
    int kernels[MAX_LIST];       /* every --kernel, in order (sweep, scaling) */
    int n_kernels;
    int dense_max;               /* scaling: time dense convs up to this kernel */
} options;

int die(const char *msg);
double now_seconds(void);
/* open path.partial for writing (tmp gets its name); commit_partial closes it
 * and renames it to path, or removes it and fails */
FILE *open_partial(const char *path, char *tmp, size_t cap, pelk_diag *d);
int commit_partial(FILE *f, const char *tmp, const char *path, pelk_diag *d);
build_options make_build_options(const options *o);
pass_options make_pass_options(const options *o);

/* A compiled model loaded with dlopen, or JIT-compiled (--backend llvm): its API by name. */
typedef struct model_api {
    void *so;               /* dlopen handle of a .so, or NULL */
    void *tcc;              /* tcc_model compiled in process, or NULL */
    struct llvm_jit *jit;   /* a model compiled in process by LLVM's ORC JIT, or NULL */
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
/* The same from a model compiled in process by libtcc (owned by api from then on). */
int tcc_model_api(model_api *api, void *tcc, const char *prefix, pelk_diag *d);
/* dlclose or free whichever the api came from. */
void close_model_api(model_api *api);
/* Build a lowered graph into api: in process with libtcc when tcc is set, or
 * with LLVM's JIT for --backend llvm, else as a temporary .so by the system
 * compiler; says which in `built_by`. */
int build_model_api(const options *o, const ir_graph *g, int tcc, model_api *api, char *built_by,
                    size_t cap, pelk_diag *d);
/* Create through the ABI-checked entry point. */
pelkc_status api_create(const model_api *api, pelkc_model **m);
void fill_random(float *x, int64_t n, uint64_t seed);

/* Spec -> graph with weights (or without, unless need_weights) -> passes. */
ir_graph *load_graph(const options *o, model_spec *s, int need_weights, FILE *dump, pelk_diag *d);
/* The same, and the seconds spent in each step if times is not NULL: spec, graph, weights, passes. */
ir_graph *load_graph_timed(const options *o, model_spec *s, int need_weights, FILE *dump,
                           pelk_diag *d, double times[4]);
double peak_rss_mb(void);
/* Sort run times in place and return their median. */
double sort_median(double *times, int n);

/* One peripheral conv layer, timed (sweep, scaling). */
typedef struct conv_variant {
    const char *grid; /* in the spec's YAML syntax */
    int kernel, kr, kc;
    int64_t params, macs, macs_dense; /* params: the shared weights, channels x k'r x k'c */
    double median_ms;
    char error[300]; /* empty: it ran */
} conv_variant;

/* Compile the conv (lowered, or dense with --periph dense; the C backend, or libtcc with --cc
 * tcc) with random weights and time it: --iters runs (default 10) after 2 warm-ups. */
int time_conv_variant(const options *o, kpe_mode kpe, int channels, int height, int width,
                      conv_variant *v, char *built_by, size_t cap, pelk_diag *d);

/* --backend (backend_cmd.c): build a .so with the chosen backend; print the
 * LLVM module; get a graph's API (C: a temporary .so, loaded; LLVM: the JIT). */
int backend_is_llvm(const options *o);
const char *backend_name(const options *o);
int build_so(const ir_graph *g, const options *o, const char *path, pelk_diag *d);
int emit_llvm(const ir_graph *g, const options *o, FILE *out, pelk_diag *d);

int cmd_run(const options *o);
int cmd_bench(const options *o);
int cmd_conv(const options *o);
int cmd_bench_conv(const options *o);
int cmd_stats(const options *o);
int cmd_grid(const options *o);
int cmd_sweep(const options *o);
int cmd_scaling(const options *o);

#endif
