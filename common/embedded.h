/* Files embedded into the pelkc binary at build time (CMake: cmake/embed.cmake):
 * the runtime sources every compiled model is built with. */
#ifndef PELK_EMBEDDED_H
#define PELK_EMBEDDED_H

#include <stddef.h>

typedef struct embedded_file {
    const char *name;
    const unsigned char *data;
    size_t size;
} embedded_file;

extern const embedded_file pelkc_embedded[];
extern const int pelkc_embedded_count;

#endif
