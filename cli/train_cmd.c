/* pelkc emit train and pelkc compile-train: one peripheral conv
 * configuration (--kernel, --grid, --channels, --kpe) into the C of its
 * training kernels, or into a .so of them (backends/train.h, spec/TRAIN.md). */
#include <stdio.h>
#include <string.h>

#include "../backends/train.h"
#include "../frontend/spec.h"
#include "cli.h"

/* The configuration the options name; -1 with d set. */
static int train_config_from(const options *o, train_config *c, pelk_diag *d)
{
    memset(c, 0, sizeof *c);
    if (!o->kernel || !o->grid || !o->channels)
        return diag_set(d, "%s needs --kernel K --grid G --channels C [--kpe none|constant|border]",
                        !strcmp(o->cmd, "emit") ? "emit train" : o->cmd);
    c->kernel = o->kernel;
    c->channels = o->channels;
    if (!o->kpe || !strcmp(o->kpe, "none"))
        c->kpe = TRAIN_KPE_NONE;
    else if (!strcmp(o->kpe, "constant"))
        c->kpe = TRAIN_KPE_CONSTANT;
    else if (!strcmp(o->kpe, "border"))
        c->kpe = TRAIN_KPE_BORDER;
    else
        return diag_set(d, "--kpe must be none, constant or border; got '%s'", o->kpe);
    return grid_parse_text(o->grid, o->kernel, &c->rows, &c->cols, d);
}

static void train_config_free(train_config *c)
{
    grid_free(&c->rows);
    grid_free(&c->cols);
}

int cmd_emit_train(const options *o)
{
    pelk_diag d;
    train_config c;
    int rc = train_config_from(o, &c, &d);
    if (!rc)
        rc = train_emit(&c, stdout, &d);
    train_config_free(&c);
    return rc ? die(d.msg) : 0;
}

int cmd_compile_train(const options *o)
{
    pelk_diag d;
    train_config c;
    if (!o->out)
        return die("compile-train needs -o T.so");
    if (o->cc && !strcmp(o->cc, "tcc"))
        return die("compile-train needs a C compiler with OpenMP (cc, gcc, clang), not tcc");
    double t0 = now_seconds();
    int rc = train_config_from(o, &c, &d);
    if (!rc)
        rc = train_build_so(&c, o->cc, o->march, o->out, o->verbose, o->keep_temps, &d);
    if (!rc) {
        char what[4400];
        train_config_describe(&c, what, sizeof what);
        printf("compiled training kernels (%s) -> %s (%.2f s)\n", what, o->out, now_seconds() - t0);
    }
    train_config_free(&c);
    return rc ? die(d.msg) : 0;
}
