/* A compiled model as the commands use it: its C API (runtime/pelkc_model.h)
 * looked up by name in a .so loaded with dlopen, or in a model compiled in
 * process (libtcc, LLVM's ORC JIT). */
#ifndef PELK_CLI_MODEL_API_H
#define PELK_CLI_MODEL_API_H

#include <stddef.h>

#include "../backends/backend.h"
#include "../ir/ir.h"
#include "../runtime/pelkc_model.h"
#include "options.h"
#include "util.h"

typedef struct model_api {
    void *handle;                           /* the loaded or compiled model; NULL: none */
    void *(*symbol)(void *, const char *);  /* its API by name (without --prefix) */
    void (*close)(void *);
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
/* Close whichever the api came from. */
void close_model_api(model_api *api);
/* Build a lowered graph into api with backend b: in process (libtcc, LLVM's
 * JIT) or as a temporary .so (the C compiler, the GPU backend); says how in
 * built_by. */
int build_model_api(const options *o, const pelkc_backend *b, const ir_graph *g, model_api *api,
                    char *built_by, size_t cap, pelk_diag *d);
/* Create through the ABI-checked entry point. */
pelkc_status api_create(const model_api *api, pelkc_model **m);
/* time_runs over run_f32(m, x, batch, y); a failed run sets d to "<what> failed: <error>". */
int time_model_runs(const model_api *api, pelkc_model *m, const float *x, int32_t batch, float *y,
                    const char *what, int warmups, int runs, run_times *t, pelk_diag *d);

#endif
