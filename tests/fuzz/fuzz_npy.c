/* libFuzzer target: the .npy reader (cli/npy.c) on arbitrary bytes. */
#include "../../cli/npy.h"
#include "fuzz_common.h"

/* defined in cli/npy.c: npy_load_f32 without the file */
int npy_parse_f32(npy_array *a, const char *buf, size_t len, const char *path, pelk_diag *d);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_array a;
    pelk_diag d;
    d.msg[0] = '\0';
    if (npy_parse_f32(&a, (const char *)data, size, "fuzz.npy", &d)) {
        check_diag(&d, "fuzz.npy: ");
        FUZZ_CHECK(a.data == NULL, "npy_parse_f32 left memory behind");
        return 0;
    }
    FUZZ_CHECK(a.rank >= 0 && a.rank <= 8, "rank %d", a.rank);
    int zero = 0;
    for (int i = 0; i < a.rank; i++) {
        FUZZ_CHECK(a.shape[i] >= 0 && a.shape[i] <= ((int64_t)1 << 40), "shape[%d] = %lld", i,
                   (long long)a.shape[i]);
        zero |= a.shape[i] == 0;
    }
    uint64_t numel = zero ? 0 : 1;
    for (int i = 0; i < a.rank && numel; i++) { /* checked before multiplying: no overflow */
        FUZZ_CHECK(numel <= size / 4 / (uint64_t)a.shape[i], "shape larger than the %zu bytes",
                   size);
        numel *= (uint64_t)a.shape[i];
    }
    float sum = 0; /* touch every element: ASan checks the allocation's size */
    for (uint64_t i = 0; i < numel; i++)
        sum += a.data[i];
    (void)sum;
    npy_free(&a);
    return 0;
}
