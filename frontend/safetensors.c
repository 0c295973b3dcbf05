#include "safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_uint(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j))
        return -1;
    double v = j->valuedouble;
    if (!(v >= 0 && v < 9007199254740992.0) || v != floor(v))
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int dtype_size(const char *dtype)
{
    static const struct { const char *name; int size; } sizes[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
        {"I8", 1},  {"U8", 1},  {"U16", 2}, {"U32", 4},  {"U64", 8}, {"BOOL", 1},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (!strcmp(sizes[i].name, dtype))
            return sizes[i].size;
    return 0;
}

static int parse_entry(st_tensor *t, const cJSON *e, const unsigned char *data, size_t data_len,
                       const char *path, pelk_diag *d)
{
    const char *name = e->string;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsObject(e) || !cJSON_IsString(dt) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return diag_set(d, "%s: tensor '%s': header entry needs dtype, shape and data_offsets",
                        path, name);
    t->name = xstrdup(name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    t->rank = cJSON_GetArraySize(shape);
    if (t->rank > ST_MAX_RANK)
        return diag_set(d, "%s: tensor '%s': rank %d is more than %d", path, name, t->rank,
                        ST_MAX_RANK);
    int64_t numel = 1;
    for (int i = 0; i < t->rank; i++) {
        if (json_uint(cJSON_GetArrayItem(shape, i), &t->shape[i]) ||
            t->shape[i] > ((int64_t)1 << 40))
            return diag_set(d, "%s: tensor '%s': bad shape entry %d", path, name, i);
        numel = t->shape[i] == 0 ? 0 : (numel > ((int64_t)1 << 40) ? numel : numel * t->shape[i]);
    }
    int64_t begin, end;
    if (json_uint(cJSON_GetArrayItem(offs, 0), &begin) ||
        json_uint(cJSON_GetArrayItem(offs, 1), &end) || begin > end || (uint64_t)end > data_len)
        return diag_set(d, "%s: tensor '%s': data_offsets lie outside the %zu-byte data section",
                        path, name, data_len);
    int size = dtype_size(t->dtype);
    if (size && (numel > ((int64_t)1 << 40) || end - begin != numel * size))
        return diag_set(d,
                        "%s: tensor '%s': %lld bytes of data for %lld elements of %s",
                        path, name, (long long)(end - begin), (long long)numel, t->dtype);
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

int st_parse(st_file *f, unsigned char *buf, size_t len, const char *path, pelk_diag *d)
{
    memset(f, 0, sizeof *f);
    f->path = xstrdup(path);
    f->buf = buf;
    f->len = len;
    if (len < 8) {
        st_close(f);
        return diag_set(d, "%s: not a safetensors file (only %zu bytes)", path, len);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > len - 8 || hlen > (100u << 20)) {
        st_close(f);
        return diag_set(d, "%s: header length %llu does not fit the %zu-byte file (truncated or "
                           "not safetensors)",
                        path, (unsigned long long)hlen, len);
    }
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        st_close(f);
        return diag_set(d, "%s: the header is not a JSON object", path);
    }
    const unsigned char *data = buf + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;
    int count = 0;
    for (cJSON *e = root->child; e; e = e->next)
        count++;
    f->tensors = xcalloc((size_t)count, sizeof *f->tensors);
    int rc = 0;
    for (cJSON *e = root->child; e && !rc; e = e->next) {
        if (!strcmp(e->string, "__metadata__"))
            continue;
        if (st_find(f, e->string))
            rc = diag_set(d, "%s: tensor '%s' appears twice", path, e->string);
        else
            rc = parse_entry(&f->tensors[f->n++], e, data, data_len, path, d);
    }
    cJSON_Delete(root);
    if (rc)
        st_close(f);
    return rc;
}

int st_open(st_file *f, const char *path, pelk_diag *d)
{
    size_t len;
    char *buf = read_file(path, &len, d);
    if (!buf) {
        memset(f, 0, sizeof *f);
        return -1;
    }
    return st_parse(f, (unsigned char *)buf, len, path, d);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (f->tensors[i].name && !strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

void st_close(st_file *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->buf);
    free(f->path);
    memset(f, 0, sizeof *f);
}
