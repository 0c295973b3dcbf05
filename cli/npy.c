#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Find 'key': in the header dict and return a pointer just past the colon. */
static const char *dict_value(const char *h, const char *key)
{
    const char *p = strstr(h, key);
    if (!p)
        return NULL;
    p = strchr(p + strlen(key), ':');
    if (!p)
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

/* Parse a whole .npy file held in memory; `path` is only used in messages.
 * (npy_load_f32 reads the file and calls this; the fuzzer calls it directly.) */
int npy_parse_f32(npy_array *a, const char *buf, size_t len, const char *path, pelk_diag *d);

int npy_parse_f32(npy_array *a, const char *buf, size_t len, const char *path, pelk_diag *d)
{
    memset(a, 0, sizeof *a);
    size_t hlen = 0, start = 0;
    if (len < 10)
        return diag_set(d, "%s: not a .npy file (only %zu bytes)", path, len);
    if (memcmp(buf, "\x93NUMPY", 6))
        return diag_set(d, "%s: not a .npy file (it does not start with \\x93NUMPY)", path);
    int major = (unsigned char)buf[6], minor = (unsigned char)buf[7];
    if (major == 1) {
        hlen = (unsigned char)buf[8] | (size_t)(unsigned char)buf[9] << 8;
        start = 10;
    } else if ((major == 2 || major == 3) && len >= 12) {
        hlen = (unsigned char)buf[8] | (size_t)(unsigned char)buf[9] << 8 |
               (size_t)(unsigned char)buf[10] << 16 | (size_t)(unsigned char)buf[11] << 24;
        start = 12;
    } else if (major == 2 || major == 3) {
        return diag_set(d, "%s: truncated .npy file (only %zu bytes)", path, len);
    } else {
        return diag_set(d, "%s: unsupported .npy format version %d.%d (1.0 to 3.0 are read)",
                        path, major, minor);
    }
    if (hlen > len - start)
        return diag_set(d, "%s: the header length %zu runs past the end of the %zu-byte file "
                           "(truncated?)",
                        path, hlen, len);
    char *h = xcalloc(hlen + 1, 1);
    memcpy(h, buf + start, hlen);
    int rc = 0;
    const char *descr = dict_value(h, "'descr'");
    const char *fo = dict_value(h, "'fortran_order'");
    const char *shape = dict_value(h, "'shape'");
    const char *missing = !descr ? "'descr'" : !fo ? "'fortran_order'" : !shape ? "'shape'" : NULL;
    if (missing) {
        rc = diag_set(d, "%s: malformed .npy header: no %s", path, missing);
    } else if (strncmp(descr, "'<f4'", 5)) {
        char got[24]; /* the dtype as written, quotes included, printable only */
        size_t n = 0;
        char quote = *descr == '\'' || *descr == '"' ? *descr : 0;
        for (const char *c = descr; *c && n + 1 < sizeof got; c++) {
            if (!quote && (*c == ',' || *c == '}'))
                break;
            got[n++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
            if (quote && c > descr && *c == quote)
                break;
        }
        got[n] = '\0';
        rc = diag_set(d, "%s: dtype must be float32 ('<f4'), got %s", path, got);
    } else if (strncmp(fo, "False", 5)) {
        rc = diag_set(d, "%s: Fortran-order arrays are not supported (save a C-order array)",
                      path);
    } else if (*shape != '(') {
        rc = diag_set(d, "%s: malformed .npy header: 'shape' is not a tuple", path);
    }
    const int64_t max = (int64_t)1 << 40;
    const char *p = rc ? NULL : shape + 1;
    int64_t numel = 1;
    int huge = 0;
    while (p && *p != ')') {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || errno || a->rank == 8) {
            char text[48]; /* the shape as written, printable only */
            size_t n = 0;
            for (const char *c = shape; *c && n + 1 < sizeof text; c++) {
                text[n++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
                if (*c == ')')
                    break;
            }
            text[n] = '\0';
            rc = diag_set(d, "%s: the header's shape %s is not a tuple of at most 8 sizes", path,
                          text);
            break;
        }
        if (v > max) {
            rc = diag_set(d, "%s: the header's shape has a dimension of %lld, more than 2^40",
                          path, v);
            break;
        }
        a->shape[a->rank++] = v;
        if (v && numel > max / v)
            huge = 1; /* checked before multiplying: no overflow */
        else
            numel *= v;
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    if (!rc && huge && numel)
        rc = diag_set(d, "%s: the header's shape has more than 2^40 elements", path);
    size_t data_at = start + hlen;
    if (!rc && (uint64_t)numel * 4 != len - data_at) {
        char dims[200] = "";
        for (int i = 0; i < a->rank; i++)
            snprintf(dims + strlen(dims), sizeof dims - strlen(dims), i ? ", %lld" : "%lld",
                     (long long)a->shape[i]);
        rc = diag_set(d, "%s: %zu data bytes, but float32 [%s] needs %llu (truncated?)", path,
                      len - data_at, dims, (unsigned long long)numel * 4);
    }
    if (!rc) {
        a->data = xcalloc((size_t)numel, sizeof(float));
        memcpy(a->data, buf + data_at, (size_t)numel * 4);
    }
    free(h);
    return rc;
}

int npy_load_f32(npy_array *a, const char *path, pelk_diag *d)
{
    memset(a, 0, sizeof *a);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return diag_set(d, "%s: is a directory, not a .npy file", path);
    size_t len;
    char *buf = read_file(path, &len, d);
    if (!buf)
        return -1;
    int rc = npy_parse_f32(a, buf, len, path, d);
    free(buf);
    return rc;
}

int npy_save_f32(const char *path, const float *data, int rank, const int64_t *shape, pelk_diag *d)
{
    char h[256];
    int n = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        n += snprintf(h + n, sizeof h - (size_t)n, "%lld,%s", (long long)shape[i],
                      i + 1 < rank ? " " : "");
        numel *= shape[i];
    }
    n += snprintf(h + n, sizeof h - (size_t)n, "), }");
    /* pad with spaces so the data starts at a multiple of 64; end with '\n' */
    int total = (10 + n + 1 + 63) / 64 * 64;
    while (10 + n + 1 < total)
        h[n++] = ' ';
    h[n++] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f)
        return diag_set(d, "%s: cannot write: %s", path, strerror(errno));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 255),
                             (unsigned char)(n >> 8)};
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(h, 1, (size_t)n, f) != (size_t)n ||
              fwrite(data, 4, (size_t)numel, f) != (size_t)numel;
    bad |= fclose(f) != 0;
    return bad ? diag_set(d, "%s: write failed", path) : 0;
}

void npy_free(npy_array *a)
{
    free(a->data);
    a->data = NULL;
}
