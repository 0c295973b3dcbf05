/* Reading safetensors files: an 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets}}, then the raw data. Every
 * field is checked before use: a corrupt file is an error, never a crash. */
#ifndef PELK_SAFETENSORS_H
#define PELK_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/diag.h"

enum { ST_MAX_RANK = 8 };

typedef struct st_tensor {
    char *name;
    char dtype[16];
    int rank;
    int64_t shape[ST_MAX_RANK];
    const unsigned char *data; /* points into st_file.buf; not aligned */
    size_t nbytes;
} st_tensor;

typedef struct st_file {
    char *path;
    unsigned char *buf;
    size_t len;
    st_tensor *tensors;
    int n;
} st_file;

int st_open(st_file *f, const char *path, pelk_diag *d);
/* Parse from memory; takes ownership of buf (malloc'd). */
int st_parse(st_file *f, unsigned char *buf, size_t len, const char *path, pelk_diag *d);
const st_tensor *st_find(const st_file *f, const char *name);
void st_close(st_file *f);

#endif
