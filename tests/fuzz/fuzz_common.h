/* Shared by the fuzz targets: the checks every diagnostic must pass. A
 * failed check aborts, which libFuzzer reports as a crash with the input. */
#ifndef PELK_FUZZ_COMMON_H
#define PELK_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                            \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz check failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                \
            fprintf(stderr, "\n");                                                       \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* An error message is one printable line that starts with the input's name
 * and says something after it. */
static inline void check_diag(const pelk_diag *d, const char *name)
{
    size_t n = strlen(d->msg), pn = strlen(name);
    FUZZ_CHECK(n > pn + 2 && !strncmp(d->msg, name, pn), "bad message '%s'", d->msg);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)d->msg[i] >= 0x20 && d->msg[i] != 0x7f,
                   "control byte 0x%02x at %zu in the message '%s'", (unsigned char)d->msg[i], i,
                   d->msg);
}

#endif
