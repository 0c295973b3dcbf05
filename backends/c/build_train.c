/* The training kernels as a shared library: the generated C (emit_train.c)
 * written into a private build directory and compiled by the system C
 * compiler with OpenMP. */
#include <stdio.h>
#include <string.h>

#include "../backend.h"
#include "../train.h"

int train_build_so(const train_config *c, const char *cc, const char *march, const char *so_path,
                   int verbose, int keep, pelk_diag *d)
{
    char dir[4096], src[4200], err[4200], marchf[128] = "";
    if (make_build_dir(dir, sizeof dir, d))
        return -1;
    snprintf(src, sizeof src, "%s/train.c", dir);
    snprintf(err, sizeof err, "%s/cc.err", dir);
    FILE *f = fopen(src, "w");
    int rc = f ? 0 : diag_set(d, "%s: cannot write", src);
    if (f) {
        rc = train_emit(c, f, d);
        if (fclose(f) && !rc)
            rc = diag_set(d, "%s: write failed", src);
    }
    if (march && *march && strcmp(march, "generic"))
        snprintf(marchf, sizeof marchf, "-march=%s", march);
    char *argv[] = {(char *)(cc && *cc ? cc : "cc"), "-std=gnu11", "-O3", "-fopenmp", "-shared",
                    "-fPIC", "-o", (char *)so_path, src, marchf[0] ? marchf : NULL, NULL};
    if (!rc)
        rc = run_tool(argv, err, verbose, "the C compiler", d);
    const char *const names[] = {"train.c", "cc.err"};
    finish_build_dir(dir, names, 2, keep);
    return rc;
}
