/* libFuzzer target: the YAML spec parser (frontend/spec.c) on arbitrary bytes.
 * A spec that parses must be consistent (grids sum to their kernel, derived
 * sizes in range); one that does not must give a one-line file:line:col message. */
#include "../../frontend/spec.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    model_spec s;
    pelk_diag d;
    d.msg[0] = '\0';
    if (spec_parse(&s, (const char *)data, size, "fuzz.yaml", &d)) {
        check_diag(&d, "fuzz.yaml:");
        FUZZ_CHECK(s.stages == NULL && s.name == NULL, "spec_parse left memory behind");
        return 0;
    }
    FUZZ_CHECK(s.name && *s.name && strlen(s.name) <= 64, "bad name");
    FUZZ_CHECK(s.n_stages >= 1 && s.n_stages <= 16, "%d stages", s.n_stages);
    FUZZ_CHECK(s.channels >= 1 && s.height >= 1 && s.width >= 1, "bad input");
    FUZZ_CHECK(s.stem_kernel >= 1 && s.stem_stride >= 1, "bad stem");
    FUZZ_CHECK(s.partial > 0 && s.partial <= 1 && s.mlp_ratio > 0 && s.mlp_ratio <= 64,
               "partial %g mlp_ratio %g", s.partial, s.mlp_ratio);
    FUZZ_CHECK(s.classes >= 1, "classes %d", s.classes);
    for (int i = 0; i < s.n_stages; i++) {
        const stage_spec *st = &s.stages[i];
        FUZZ_CHECK(st->dim >= 1 && st->depth >= 0 && st->kernel >= 1 && st->kernel % 2 == 1,
                   "stage %d: dim %d depth %d kernel %d", i, st->dim, st->depth, st->kernel);
        FUZZ_CHECK(st->rows.n >= 1 && st->cols.n >= 1 && grid_sum(&st->rows) == st->kernel &&
                       grid_sum(&st->cols) == st->kernel,
                   "stage %d: grid does not sum to %d", i, st->kernel);
        for (int k = 0; k < st->rows.n; k++)
            FUZZ_CHECK(st->rows.size[k] >= 1, "stage %d: row region %d empty", i, k);
        for (int k = 0; k < st->cols.n; k++)
            FUZZ_CHECK(st->cols.size[k] >= 1, "stage %d: col region %d empty", i, k);
        FUZZ_CHECK(st->conv_channels >= 0 && st->conv_channels <= st->dim,
                   "stage %d: g = %d of %d", i, st->conv_channels, st->dim);
        FUZZ_CHECK(st->hidden >= 1 && st->hidden <= 64 * st->dim, "stage %d: hidden %d", i,
                   st->hidden);
        FUZZ_CHECK(st->map_h >= 1 && st->map_w >= 1, "stage %d: map %dx%d", i, st->map_h,
                   st->map_w);
    }
    spec_free(&s);
    return 0;
}
