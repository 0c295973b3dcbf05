/* The pelkc commands (one file each, or a few per file) and what they share:
 * the options (options.h), the helpers (util.h), the compile driver
 * (driver.h) and a compiled model's API (model_api.h). */
#ifndef PELK_CLI_H
#define PELK_CLI_H

#include "driver.h"
#include "model_api.h"
#include "options.h"
#include "util.h"

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

int cmd_check(const options *o);
int cmd_compile(const options *o);
int cmd_emit(const options *o);
int cmd_run(const options *o);
int cmd_bench(const options *o);
int cmd_conv(const options *o);
int cmd_bench_conv(const options *o);
int cmd_stats(const options *o);
int cmd_grid(const options *o);
int cmd_sweep(const options *o);
int cmd_scaling(const options *o);
/* train_cmd.c: the training kernels of one conv configuration (emit train, compile-train) */
int cmd_emit_train(const options *o);
int cmd_compile_train(const options *o);

#endif
