#include "safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { ST_MAX_NUMEL_LOG2 = 40 }; /* at most 2^40 elements in a tensor, and per dimension */

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

/* Names and dtypes are quoted in one-line messages: no control characters. */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static const char *json_kind(const cJSON *j)
{
    return cJSON_IsObject(j)   ? "an object"
           : cJSON_IsArray(j)  ? "a list"
           : cJSON_IsString(j) ? "a string"
           : cJSON_IsNumber(j) ? "a number"
           : cJSON_IsBool(j)   ? "a boolean"
                               : "null";
}

static int parse_entry(st_tensor *t, const cJSON *e, const unsigned char *data, size_t data_len,
                       const char *path, pelk_diag *d)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return diag_set(d, "%s: tensor '%s': the header entry must be an object, got %s", path,
                        name, json_kind(e));
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const char *missing = !dt ? "dtype" : !shape ? "shape" : !offs ? "data_offsets" : NULL;
    if (missing)
        return diag_set(d, "%s: tensor '%s': the header entry has no '%s'", path, name, missing);
    if (!cJSON_IsString(dt) || has_control(dt->valuestring) || strlen(dt->valuestring) >= 16)
        return diag_set(d, "%s: tensor '%s': dtype must be a name like \"F32\", got %s", path,
                        name, cJSON_IsString(dt) ? "a malformed string" : json_kind(dt));
    if (!cJSON_IsArray(shape))
        return diag_set(d, "%s: tensor '%s': shape must be a list of sizes, got %s", path, name,
                        json_kind(shape));
    if (!cJSON_IsArray(offs))
        return diag_set(d, "%s: tensor '%s': data_offsets must be a list [begin, end], got %s",
                        path, name, json_kind(offs));
    if (cJSON_GetArraySize(offs) != 2)
        return diag_set(d, "%s: tensor '%s': data_offsets must be a list [begin, end], got %d "
                           "entries",
                        path, name, cJSON_GetArraySize(offs));
    t->name = xstrdup(name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
    int rank = cJSON_GetArraySize(shape);
    if (rank > ST_MAX_RANK)
        return diag_set(d, "%s: tensor '%s': rank %d is more than %d", path, name, rank,
                        ST_MAX_RANK);
    t->rank = rank;
    const int64_t max = (int64_t)1 << ST_MAX_NUMEL_LOG2;
    int zero = 0;
    for (int i = 0; i < t->rank; i++) {
        if (json_uint(cJSON_GetArrayItem(shape, i), &t->shape[i]) || t->shape[i] > max)
            return diag_set(d, "%s: tensor '%s': shape entry %d must be an integer in [0, 2^%d]",
                            path, name, i, ST_MAX_NUMEL_LOG2);
        zero |= t->shape[i] == 0;
    }
    int64_t numel = zero ? 0 : 1;
    for (int i = 0; i < t->rank && numel; i++) {
        if (numel > max / t->shape[i]) /* checked before multiplying: no overflow */
            return diag_set(d, "%s: tensor '%s': its shape has more than 2^%d elements", path,
                            name, ST_MAX_NUMEL_LOG2);
        numel *= t->shape[i];
    }
    int64_t begin, end;
    if (json_uint(cJSON_GetArrayItem(offs, 0), &begin) ||
        json_uint(cJSON_GetArrayItem(offs, 1), &end))
        return diag_set(d, "%s: tensor '%s': data_offsets must be two non-negative integers", path,
                        name);
    if (begin > end)
        return diag_set(d, "%s: tensor '%s': data_offsets [%lld, %lld] begin after they end", path,
                        name, (long long)begin, (long long)end);
    if ((uint64_t)end > data_len)
        return diag_set(d, "%s: tensor '%s': data_offsets lie outside the %zu-byte data section",
                        path, name, data_len);
    int size = dtype_size(t->dtype);
    if (size && end - begin != numel * size)
        return diag_set(d, "%s: tensor '%s': data_offsets give %lld bytes, but %lld elements of "
                           "%s need %lld",
                        path, name, (long long)(end - begin), (long long)numel, t->dtype,
                        (long long)numel * size);
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int by_offset(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return (x->data > y->data) - (x->data < y->data);
}

/* Sort by name (st_find searches by halves), then check that names are unique
 * and that no two tensors share a byte of the data section. */
static int check_tensors(st_file *f, const unsigned char *data, const char *path, pelk_diag *d)
{
    if (f->n < 2)
        return 0;
    qsort(f->tensors, (size_t)f->n, sizeof *f->tensors, by_name);
    for (int i = 1; i < f->n; i++)
        if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name))
            return diag_set(d, "%s: tensor '%s' appears twice", path, f->tensors[i].name);
    const st_tensor **order = xcalloc((size_t)f->n, sizeof *order);
    int n = 0;
    for (int i = 0; i < f->n; i++)
        if (f->tensors[i].nbytes) /* an empty tensor overlaps nothing */
            order[n++] = &f->tensors[i];
    qsort(order, (size_t)n, sizeof *order, by_offset);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++) {
        const st_tensor *a = order[i - 1], *b = order[i];
        if (a->data + a->nbytes > b->data)
            rc = diag_set(d,
                          "%s: tensors '%s' (data bytes %lld to %lld) and '%s' (bytes %lld to "
                          "%lld) overlap",
                          path, a->name, (long long)(a->data - data),
                          (long long)(a->data - data + (ptrdiff_t)a->nbytes), b->name,
                          (long long)(b->data - data),
                          (long long)(b->data - data + (ptrdiff_t)b->nbytes));
    }
    free(order);
    return rc;
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
        const char *kind = root ? json_kind(root) : NULL;
        cJSON_Delete(root);
        st_close(f);
        if (kind)
            return diag_set(d, "%s: the header is %s, not a JSON object", path, kind);
        return diag_set(d, "%s: the header is not a JSON object", path);
    }
    const unsigned char *data = buf + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;
    int count = 0;
    for (cJSON *e = root->child; e; e = e->next)
        count++;
    f->tensors = xcalloc((size_t)count, sizeof *f->tensors);
    int rc = 0, index = 0;
    for (cJSON *e = root->child; e && !rc; e = e->next, index++) {
        if (!strcmp(e->string, "__metadata__"))
            continue;
        if (has_control(e->string))
            rc = diag_set(d, "%s: the name of header entry %d holds a control character", path,
                          index);
        else
            rc = parse_entry(&f->tensors[f->n++], e, data, data_len, path, d);
    }
    cJSON_Delete(root);
    if (!rc)
        rc = check_tensors(f, data, path, d);
    if (rc)
        st_close(f);
    return rc;
}

int st_open(st_file *f, const char *path, pelk_diag *d)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        memset(f, 0, sizeof *f);
        return diag_set(d, "%s: is a directory, not a safetensors file", path);
    }
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
    int lo = 0, hi = f->n; /* st_parse sorted the tensors by name */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (!c)
            return &f->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
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
