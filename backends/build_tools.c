/* What every .so build shares (backends/c/build_so.c, backends/llvm/
 * llvm_target.c and backends/gpu/gpu_build_so.c): a private build directory, writing its
 * files, and running a tool (the C compiler, or the linker driver) with its
 * stderr kept so that a failure is reported by its first line. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/embedded.h"
#include "../common/version.h"
#include "lowered_model.h"

#ifndef PELKC_HALIDE_INCLUDE
#define PELKC_HALIDE_INCLUDE "/usr/include/halide14"
#endif

extern char **environ;

int make_build_dir(char *dir, size_t cap, pelk_diag *d)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/pelkc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return diag_set(d, "cannot create a build directory in %s: %s", tmp ? tmp : "/tmp",
                        strerror(errno));
    return 0;
}

int write_file(const char *path, const void *data, size_t n, pelk_diag *d)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return diag_set(d, "%s: cannot write: %s", path, strerror(errno));
    int bad = fwrite(data, 1, n, f) != n;
    bad |= fclose(f) != 0;
    return bad ? diag_set(d, "%s: write failed", path) : 0;
}

int run_tool(char *const argv[], const char *errpath, int verbose, const char *role,
             pelk_diag *d)
{
    if (verbose) {
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
        fprintf(stderr, "\n");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return diag_set(d, "cannot run %s '%s': %s", role, argv[0], strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return diag_set(d, "waiting for '%s': %s", argv[0], strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char first[400] = "";
    FILE *f = fopen(errpath, "r");
    if (f) {
        if (!fgets(first, sizeof first, f))
            first[0] = '\0';
        fclose(f);
        first[strcspn(first, "\n")] = '\0';
    }
    return diag_set(d, "%s '%s' failed: %s", role, argv[0], first[0] ? first : "(no message)");
}

/* Written whole into path.partial beside the destination, then renamed: a
 * failed or interrupted build never leaves a half-written .so at path. */
int publish_so(char *argv[], int out, const char *so_path, const char *errpath, int verbose,
               const char *role, pelk_diag *d)
{
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", so_path);
    argv[out] = partial;
    int rc = run_tool(argv, errpath, verbose, role, d);
    if (!rc && rename(partial, so_path))
        rc = diag_set(d, "%s: cannot write: %s", so_path, strerror(errno));
    if (rc)
        unlink(partial);
    return rc;
}

void cc_model_args(char *argv[], int *a, const build_options *o, const char *dir, cc_args *t)
{
    snprintf(t->built_by, sizeof t->built_by, "-DPELKC_BUILT_BY=\"pelkc %s\"", PELKC_VERSION);
    argv[(*a)++] = t->built_by;
    if (o->prefix) {
        snprintf(t->prefix, sizeof t->prefix, "-DPELKC_PREFIX=%s", o->prefix);
        argv[(*a)++] = t->prefix;
    }
    snprintf(t->inc_dir, sizeof t->inc_dir, "-I%s", dir);
    snprintf(t->inc_halide, sizeof t->inc_halide, "-I%s", PELKC_HALIDE_INCLUDE);
    argv[(*a)++] = t->inc_dir;
    argv[(*a)++] = t->inc_halide;
}

/* .incbin keeps ~200 MB of weights out of the C compiler's way. */
int write_incbin(const char *path, const char *name, const char *blob, int text, pelk_diag *d)
{
    char s[5000];
    int n = snprintf(s, sizeof s,
                     "    .section .rodata.%s,\"a\",@progbits\n    .balign 64\n    .globl %s\n"
                     "    .hidden %s\n    .type %s, @object\n%s:\n    .incbin \"%s\"\n%s"
                     "    .size %s, . - %s\n    .section .note.GNU-stack,\"\",@progbits\n",
                     name, name, name, name, name, blob, text ? "    .byte 0\n" : "", name, name);
    return write_file(path, s, (size_t)n, d);
}

/* The runtime's sources (common/embedded.h), written into dir for the C
 * compiler to build beside the model. */
int write_runtime_files(const char *dir, pelk_diag *d)
{
    char path[4200];
    for (int i = 0; i < pelkc_embedded_count; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, pelkc_embedded[i].name);
        if (write_file(path, pelkc_embedded[i].data, pelkc_embedded[i].size, d))
            return -1;
    }
    return 0;
}

/* After a build in dir: say where it is when the files are kept, else
 * remove the named files, the embedded runtime files a build may have
 * written beside them (absent ones are skipped) and the directory. */
void finish_build_dir(const char *dir, const char *const names[], size_t n, int keep)
{
    if (keep) {
        fprintf(stderr, "pelkc: build files kept in %s\n", dir);
        return;
    }
    char path[4200];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    for (int i = 0; i < pelkc_embedded_count; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, pelkc_embedded[i].name);
        unlink(path);
    }
    rmdir(dir);
}

int build_so_in_temp(const ir_graph *g, const build_options *o, const char *so_path,
                     so_builder *build, const char *const names[], size_t n, pelk_diag *d)
{
    char dir[4096];
    if (make_build_dir(dir, sizeof dir, d))
        return -1;
    lowered_model m;
    lowered_model_prepare(g, o, LOWERED_FOR_CPU, &m);
    int rc = build(dir, &m, o, so_path, d);
    lowered_model_free(&m);
    finish_build_dir(dir, names, n, o->keep_temps);
    return rc;
}
