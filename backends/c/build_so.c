/* Build a standalone .so with the system C compiler: the generated C, the
 * runtime sources (embedded in pelkc at build time), and the weights blob
 * pulled in with .incbin. Everything happens in a private temp directory;
 * the .so is moved into place only when the compiler succeeded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_c_internal.h"

static const char *const temp_names[] = {"model.c", "weights.bin", "weights.S", "cc.log"};

static int build_in(const char *dir, const lowered_model *m, const build_options *o,
                    const char *so_path, pelk_diag *d)
{
    char blob[4096], cfile[4096], sfile[4096], rt[4096], errlog[4096];
    if (write_runtime_files(dir, d))
        return -1;
    snprintf(blob, sizeof blob, "%s/weights.bin", dir);
    if (write_weights(m->g, &m->weights, blob, d))
        return -1;

    snprintf(sfile, sizeof sfile, "%s/weights.S", dir);
    if (write_incbin(sfile, "pelkc_weights", blob, 0, d))
        return -1;

    snprintf(cfile, sizeof cfile, "%s/model.c", dir);
    FILE *f = fopen(cfile, "w");
    if (!f)
        return diag_set(d, "%s: cannot write: %s", cfile, strerror(errno));
    int rc = c_emit_lowered(m, o, f, d);
    if (fclose(f) && !rc)
        rc = diag_set(d, "%s: write failed", cfile);
    if (rc)
        return -1;

    snprintf(rt, sizeof rt, "%s/pelkc_runtime.c", dir);
    snprintf(errlog, sizeof errlog, "%s/cc.log", dir);
    char *argv[40];
    int a = 0;
    argv[a++] = (char *)(o->cc ? o->cc : "cc");
    char *opts[] = {"-std=gnu11", "-O3", "-fPIC", "-shared", "-fvisibility=hidden", "-fopenmp", "-w"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        argv[a++] = opts[i];
    char march[128];
    if (o->march) {
        snprintf(march, sizeof march, "-march=%s", o->march);
        argv[a++] = march;
    }
    cc_args text;
    cc_model_args(argv, &a, o, dir, &text);
    char *extra = o->cflags ? xstrdup(o->cflags) : NULL;
    for (char *t = extra ? strtok(extra, " ") : NULL; t && a < 30; t = strtok(NULL, " "))
        argv[a++] = t;
    argv[a++] = "-o";
    int out = a++;
    argv[a++] = cfile;
    argv[a++] = rt;
    argv[a++] = sfile;
    argv[a++] = "-lm";
    argv[a] = NULL;
    rc = publish_so(argv, out, so_path, errlog, o->verbose, "the C compiler", d);
    free(extra);
    return rc;
}

int target_vec(const char *march)
{
    if (!march)
        return 8;
    if (!strcmp(march, "native")) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") ? 16 : 8;
    }
    return strstr(march, "avx512") || !strcmp(march, "skylake-avx512") || !strcmp(march, "znver4") ||
                   !strcmp(march, "sapphirerapids") || !strcmp(march, "icelake-server")
               ? 16
               : 8;
}

int c_build_so(const ir_graph *g, const build_options *o, const char *so_path, pelk_diag *d)
{
    return build_so_in_temp(g, o, so_path, build_in, temp_names,
                            sizeof temp_names / sizeof temp_names[0], d);
}
