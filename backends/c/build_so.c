/* Build a standalone .so with the system C compiler: the generated C, the
 * runtime sources (embedded in pelkc at build time), and the weights blob
 * pulled in with .incbin. Everything happens in a private temp directory;
 * the .so is moved into place only when the compiler succeeded. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/version.h"
#include "emit_c_internal.h"

#ifndef PELKC_HALIDE_INCLUDE
#define PELKC_HALIDE_INCLUDE "/usr/include/halide14"
#endif



static const char *const temp_names[] = {"model.c", "weights.bin", "weights.S", "cc.log"};

static int build_in(const char *dir, const lowered_model *m, const build_options *o,
                    const char *so_path, pelk_diag *d)
{
    char blob[4096], so[4096], cfile[4096], sfile[4096], rt[4096], errlog[4096];
    if (write_runtime_files(dir, d))
        return -1;
    snprintf(blob, sizeof blob, "%s/weights.bin", dir);
    if (write_weights(m->g, &m->weights, blob, d))
        return -1;

    /* .incbin keeps ~200 MB of weights out of the C compiler's way */
    char asm_text[4400];
    int n = snprintf(asm_text, sizeof asm_text,
                     "    .section .rodata.pelkc_weights,\"a\",@progbits\n"
                     "    .balign 64\n    .globl pelkc_weights\n    .hidden pelkc_weights\n"
                     "    .type pelkc_weights, @object\npelkc_weights:\n"
                     "    .incbin \"%s\"\n    .size pelkc_weights, . - pelkc_weights\n"
                     "    .section .note.GNU-stack,\"\",@progbits\n",
                     blob);
    snprintf(sfile, sizeof sfile, "%s/weights.S", dir);
    if (write_file(sfile, asm_text, (size_t)n, d))
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

    /* the compiler writes next to the destination; a rename then publishes it whole */
    snprintf(so, sizeof so, "%s.partial", so_path);
    snprintf(rt, sizeof rt, "%s/pelkc_runtime.c", dir);
    snprintf(errlog, sizeof errlog, "%s/cc.log", dir);
    char inc_dir[4200], inc_halide[600];
    snprintf(inc_dir, sizeof inc_dir, "-I%s", dir);
    snprintf(inc_halide, sizeof inc_halide, "-I%s", PELKC_HALIDE_INCLUDE);
    char *argv[40];
    int a = 0;
    argv[a++] = (char *)(o->cc ? o->cc : "cc");
    char *opts[] = {"-std=gnu11", "-O3", "-fPIC", "-shared", "-fvisibility=hidden", "-fopenmp", "-w"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        argv[a++] = opts[i];
    char built_by[64], prefix[200];
    snprintf(built_by, sizeof built_by, "-DPELKC_BUILT_BY=\"pelkc %s\"", PELKC_VERSION);
    argv[a++] = built_by;
    if (o->prefix) {
        snprintf(prefix, sizeof prefix, "-DPELKC_PREFIX=%s", o->prefix);
        argv[a++] = prefix;
    }
    char march[128];
    if (o->march) {
        snprintf(march, sizeof march, "-march=%s", o->march);
        argv[a++] = march;
    }
    argv[a++] = inc_dir;
    argv[a++] = inc_halide;
    char *extra = o->cflags ? xstrdup(o->cflags) : NULL;
    for (char *t = extra ? strtok(extra, " ") : NULL; t && a < 30; t = strtok(NULL, " "))
        argv[a++] = t;
    argv[a++] = "-o";
    argv[a++] = so;
    argv[a++] = cfile;
    argv[a++] = rt;
    argv[a++] = sfile;
    argv[a++] = "-lm";
    argv[a] = NULL;
    rc = run_tool(argv, errlog, o->verbose, "the C compiler", d);
    free(extra);
    if (!rc && rename(so, so_path))
        rc = diag_set(d, "%s: cannot write: %s", so_path, strerror(errno));
    if (rc)
        unlink(so);
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
    char dir[4096];
    if (make_build_dir(dir, sizeof dir, d))
        return -1;
    lowered_model m;
    lowered_model_prepare(g, o, LOWERED_FOR_CPU, &m);
    int rc = build_in(dir, &m, o, so_path, d);
    lowered_model_free(&m);
    finish_build_dir(dir, temp_names, sizeof temp_names / sizeof temp_names[0], o->keep_temps);
    return rc;
}
