/* Compile a model in process with libtcc: two translation units, the
 * generated orchestration code (c_emit with host_kernels) and the runtime
 * (pelkc_runtime.c: the CPU device and the exported API), both from text in memory; their includes of
 * pelkc's own headers are replaced by the embedded copies, so nothing is
 * read from or written to disk but the system headers. The kernels and the
 * weights are handed to tcc by address (tcc_add_symbol): the runtime's kernel
 * library (runtime/pelkc_kernels_lib.h) and the generic lowered conv. */
#define _GNU_SOURCE /* open_memstream */
#include <libtcc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/embedded.h"
#include "../../common/version.h"
#include "../../runtime/pelkc_host.h"
#include "emit_c_internal.h"

#ifndef PELKC_HALIDE_INCLUDE
#define PELKC_HALIDE_INCLUDE "/usr/include/halide14"
#endif
#ifndef PELKC_TCC_LIB_DIR
#define PELKC_TCC_LIB_DIR "/usr/lib/x86_64-linux-gnu/tcc"
#endif

struct tcc_model {
    TCCState *s;
    unsigned char *weights; /* the blob the code's pelkc_weights points to */
};

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static const embedded_file *embedded(const char *name, size_t len)
{
    for (int i = 0; i < pelkc_embedded_count; i++)
        if (strlen(pelkc_embedded[i].name) == len && !memcmp(pelkc_embedded[i].name, name, len))
            return &pelkc_embedded[i];
    return NULL;
}

/* Append src to out with every `#include "X"` of an embedded file X replaced by
 * X's text (recursively), the first time only: seen[i] marks embedded file i
 * expanded (the include guards would drop a repeat's text, and no include of
 * pelkc's files is conditional). */
static void expand(FILE *out, const char *src, size_t n, int depth, unsigned char *seen)
{
    const char *p = src, *end = src + n;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol ? (size_t)(eol - p + 1) : (size_t)(end - p);
        const char *q = p;
        while (q < p + len && (*q == ' ' || *q == '\t'))
            q++;
        const embedded_file *f = NULL;
        if (depth < 8 && !strncmp(q, "#include \"", 10)) {
            const char *name = q + 10, *close = memchr(name, '"', (size_t)(p + len - name));
            if (close)
                f = embedded(name, (size_t)(close - name));
        }
        if (f && seen[f - pelkc_embedded]) {
            fprintf(out, "/* ---- %s (embedded above) ---- */\n", f->name);
        } else if (f) {
            seen[f - pelkc_embedded] = 1;
            fprintf(out, "/* ---- %s (embedded) ---- */\n", f->name);
            expand(out, (const char *)f->data, f->size, depth + 1, seen);
            fputc('\n', out);
        } else {
            fwrite(p, 1, len, out);
        }
        p += len;
    }
}

static void on_error(void *opaque, const char *msg)
{
    pelk_diag *d = opaque;
    /* the first error is the one that explains; warnings only until there is one */
    if (!d->msg[0] || (strstr(d->msg, "warning:") && !strstr(msg, "warning:")))
        diag_set(d, "tcc: %s", msg);
}

void tcc_model_free(tcc_model *m)
{
    if (!m)
        return;
    if (m->s)
        tcc_delete(m->s);
    free(m->weights);
    free(m);
}

void *tcc_model_symbol(void *model, const char *name)
{
    return tcc_get_symbol(((tcc_model *)model)->s, name);
}

/* Compile one translation unit given as text, after expanding pelkc's includes. */
static int compile_unit(TCCState *s, const char *text, size_t n, int64_t *bytes)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    unsigned char *seen = xcalloc((size_t)pelkc_embedded_count, 1);
    expand(f, text, n, 0, seen);
    free(seen);
    fclose(f);
    *bytes += (int64_t)len;
    int rc = tcc_compile_string(s, buf);
    free(buf);
    return rc;
}

int tcc_build(const ir_graph *g, const build_options *o, tcc_model **out, tcc_timing *t,
              pelk_diag *d)
{
    tcc_timing tm = {0};
    *out = NULL;
    build_options bo = *o;
    bo.host_kernels = 1;
    bo.vec = host_kernels_vec(); /* the scratch layout of the precompiled kernel */

    double t0 = seconds();
    lowered_model lm;
    lowered_model_prepare(g, &bo, LOWERED_FOR_CPU, &lm);
    char *code = NULL;
    size_t code_len = 0;
    FILE *f = open_memstream(&code, &code_len);
    int rc = c_emit_lowered(&lm, &bo, f, d);
    fclose(f);
    tm.emit = seconds() - t0;
    if (rc) {
        lowered_model_free(&lm);
        free(code);
        return -1;
    }

    t0 = seconds();
    tcc_model *m = xcalloc(1, sizeof *m);
    const weight_layout *wl = &lm.weights;
    m->weights = aligned_alloc(64, (size_t)(wl->total + 64) / 64 * 64);
    if (!m->weights)
        rc = diag_set(d, "out of memory for %lld bytes of weights", (long long)wl->total);
    if (!rc)
        rc = fill_weights(g, wl, m->weights, d);
    lowered_model_free(&lm);
    tm.weights = seconds() - t0;

    t0 = seconds();
    if (!rc) {
        d->msg[0] = '\0'; /* on_error keeps tcc's first error here */
        m->s = tcc_new();
        if (!m->s)
            rc = diag_set(d, "tcc: cannot create a compiler state");
    }
    if (!rc) {
        tcc_set_error_func(m->s, d, on_error);
        tcc_set_lib_path(m->s, PELKC_TCC_LIB_DIR);
        tcc_add_include_path(m->s, PELKC_HALIDE_INCLUDE);
        tcc_set_options(m->s, "-std=c11"); /* glibc declares aligned_alloc for C11 only */
        tcc_set_output_type(m->s, TCC_OUTPUT_MEMORY);
        tcc_define_symbol(m->s, "PELKC_BUILT_BY", "\"pelkc " PELKC_VERSION " (libtcc, in process)\"");
        if (o->prefix)
            tcc_define_symbol(m->s, "PELKC_PREFIX", o->prefix);
        const embedded_file *rt = embedded("pelkc_runtime.c", strlen("pelkc_runtime.c"));
        if (compile_unit(m->s, code, code_len, &tm.c_bytes) ||
            compile_unit(m->s, (const char *)rt->data, rt->size, &tm.c_bytes))
            rc = d->msg[0] ? -1 : diag_set(d, "tcc: compilation failed");
    }
    tm.compile = seconds() - t0;
    t0 = seconds();
    if (!rc) {
        for (const pkl_symbol *k = pkl_symbols; k->name; k++)
            tcc_add_symbol(m->s, k->name, k->address);
        tcc_add_symbol(m->s, "pkx_box_gather", (const void *)pkx_box_gather);
        tcc_add_symbol(m->s, "pelkc_weights", m->weights);
        if (tcc_relocate(m->s, TCC_RELOCATE_AUTO) < 0)
            rc = d->msg[0] ? -1 : diag_set(d, "tcc: linking in memory failed");
    }
    tm.relocate = seconds() - t0;
    free(code);
    if (t)
        *t = tm;
    if (rc) {
        tcc_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}
