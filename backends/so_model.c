/* A model as a shared library loaded with dlopen: one the user compiled
 * (`pelkc run M.so`), or a temporary one a backend builds for a command that
 * runs a spec. Its API functions are found by name, with the .so's --prefix. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

typedef struct so_model {
    void *so;
    char prefix[128];
} so_model;

void *so_model_load(const char *path, const char *prefix, pelk_diag *d)
{
    char buf[4096];
    /* dlopen searches the library path for names without a slash */
    snprintf(buf, sizeof buf, "%s%s", strchr(path, '/') ? "" : "./", path);
    void *so = dlopen(buf, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        diag_set(d, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    so_model *m = xcalloc(1, sizeof *m);
    m->so = so;
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix ? prefix : "");
    return m;
}

void *so_model_build(const pelkc_backend *b, const ir_graph *g, const build_options *o,
                              pelk_diag *d)
{
    char so[] = "/tmp/pelkc-run-XXXXXX";
    int fd = mkstemp(so);
    if (fd < 0) {
        diag_set(d, "cannot create a temporary file in /tmp");
        return NULL;
    }
    close(fd);
    void *m = NULL;
    if (!b->build_so(g, o, so, d))
        m = so_model_load(so, o->prefix, d);
    if (!o->keep_temps)
        unlink(so);
    else
        fprintf(stderr, "pelkc: library kept at %s\n", so);
    return m;
}

void *so_model_symbol(void *model, const char *name)
{
    so_model *m = model;
    char full[256];
    snprintf(full, sizeof full, "%s%s", m->prefix, name);
    return dlsym(m->so, full);
}

void so_model_close(void *model)
{
    so_model *m = model;
    if (!m)
        return;
    dlclose(m->so);
    free(m);
}
