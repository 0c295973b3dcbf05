/* Filling the graph's constants: from a safetensors file, or seeded random. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_graph.h"
#include "safetensors.h"

static void format_shape(char *buf, size_t cap, int rank, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
}

static void const_shape(const ir_const *c, int64_t *shape)
{
    for (int i = 0; i < c->rank; i++)
        shape[i] = c->shape[i];
}

int bind_weights(ir_graph *g, const char *path, pelk_diag *d)
{
    st_file f;
    if (st_open(&f, path, d))
        return -1;
    int rc = bind_weights_file(g, &f, d);
    st_close(&f);
    return rc;
}

int bind_weights_file(ir_graph *g, const st_file *file, pelk_diag *d)
{
    const st_file f = *file;
    const char *path = f.path;
    int rc = 0;
    for (int i = 0; i < g->n_consts && !rc; i++) {
        ir_const *c = &g->consts[i];
        int64_t want[4];
        char ws[160], gs[160]; /* room for 8 dimensions of 2^40 */
        const_shape(c, want);
        format_shape(ws, sizeof ws, c->rank, want);
        const st_tensor *t = st_find(&f, c->name);
        if (!t) {
            rc = diag_set(d, "%s: missing tensor '%s' (expected F32 %s)", path, c->name, ws);
            break;
        }
        format_shape(gs, sizeof gs, t->rank, t->shape);
        int same = t->rank == c->rank;
        for (int k = 0; same && k < c->rank; k++)
            same = t->shape[k] == want[k];
        if (!same)
            rc = diag_set(d, "%s: tensor '%s' has shape %s, expected %s", path, c->name, gs, ws);
        else if (strcmp(t->dtype, "F32"))
            rc = diag_set(d, "%s: tensor '%s' has dtype %s, expected F32", path, c->name,
                          t->dtype);
        if (rc)
            break;
        free(c->data);
        c->data = xcalloc((size_t)ir_const_numel(c), sizeof(float));
        memcpy(c->data, t->data, t->nbytes); /* copy: the file's data need not be aligned */
    }
    for (int i = 0; i < f.n && !rc; i++)
        if (ir_find_const(g, f.tensors[i].name) < 0) {
            char gs[160];
            format_shape(gs, sizeof gs, f.tensors[i].rank, f.tensors[i].shape);
            rc = diag_set(d, "%s: unexpected tensor '%s' %s: the spec has no such weight", path,
                          f.tensors[i].name, gs);
        }
    return rc;
}

/* splitmix64: small, seedable, good enough for test weights. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Mean 0, variance 1, close to normal: the sum of four uniform 16-bit lanes of one
 * random word (Irwin-Hall), centred and scaled. No log or cos: `pelkc run` draws PeLK-T's
 * 49 M weights in ~0.1 s instead of ~3 s with Box-Muller. */
static double normal(uint64_t *s)
{
    uint64_t r = next_u64(s);
    /* four U(0,1) have mean 2 and variance 1/3; the lanes' sum is exact in an int */
    int sum = (int)(r & 0xFFFF) + (int)((r >> 16) & 0xFFFF) + (int)((r >> 32) & 0xFFFF) +
              (int)(r >> 48);
    return ((sum + 2) * (1.0 / 65536.0) - 2.0) * 1.7320508075688772;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void bind_random_weights(ir_graph *g, uint64_t seed)
{
    uint64_t state = seed;
    for (int i = 0; i < g->n_consts; i++) {
        ir_const *c = &g->consts[i];
        int64_t n = ir_const_numel(c);
        /* mean and std by role, so every part of the network moves the output */
        double mean = 0, std = 0.1;
        if (strstr(c->name, "norm") && ends_with(c->name, ".weight"))
            mean = 1, std = 0.2;
        else if (strstr(c->name, "norm") && ends_with(c->name, ".bias"))
            std = 0.2;
        else if (ends_with(c->name, ".kpe"))
            std = 0.2;
        else if (ends_with(c->name, ".gamma"))
            mean = 0.5, std = 0.2;
        else if (strstr(c->name, "conv.weight") && c->rank == 4 && c->shape[1] == 1)
            std = 1.0 / c->shape[2] / c->shape[3] * 2; /* compact grid weights */
        else if (c->rank >= 2)
            std = 1.0 / sqrt((double)(c->shape[0] ? n / c->shape[0] : 1)); /* fan-in scaled */
        free(c->data);
        c->data = xcalloc((size_t)n, sizeof(float));
        for (int64_t k = 0; k < n; k++)
            c->data[k] = (float)(mean + std * normal(&state));
    }
}
