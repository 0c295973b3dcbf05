/* The contract between the code pelkc generates and the runtime it links with.
 * Generated code defines pelkc_desc; the runtime implements the public API
 * (pelkc_model.h) on top of it. Not part of the public API. */
#ifndef PELKC_INTERNAL_H
#define PELKC_INTERNAL_H

#include <stdint.h>

typedef struct pelkc_model_desc {
    const char *name;
    int32_t in_c, in_h, in_w;
    int32_t out_c, out_h, out_w; /* out_h = out_w = 1 for a classifier */
    int64_t arena_floats;   /* per image */
    int64_t scratch_floats; /* per thread */
    /* nimg <= PELKC_MAX_BATCH images, layer by layer: in [nimg][C][H][W] and
     * out [nimg][out_c][out_h][out_w] contiguous, arena nimg * arena_floats,
     * scratch for nthreads threads. */
    void (*run_batch)(const float *in, float *out, int nimg, float *arena, float *scratch,
                      int nthreads);
} pelkc_model_desc;

/* Images per run_batch call: enough that every weight panel is read once for
 * several images (the point of running layer by layer), few enough that the
 * arena stays small. */
#define PELKC_MAX_BATCH 8

extern const pelkc_model_desc pelkc_desc;

#endif
