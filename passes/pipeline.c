#include <stdlib.h>

#include "passes.h"

static const pass pipeline[] = {
    {"fold-bn", "fold each BatchNorm into the depthwise conv before it", pass_fold_bn},
    {"fold-kpe", "fold the kernel-wise positional embedding into a bias or a per-channel map",
     pass_fold_kpe},
    {"fold-small", "fold each parallel small kernel into the peripheral kernel's centre",
     pass_fold_small},
    {"lower-periph",
     "peripheral convs to row boxes, region gather, column boxes (--periph dense: dense convs)",
     pass_lower_periph},
    {"fuse-box-gather", "fuse each lowered conv's row boxes, gather and column boxes into one op",
     pass_fuse_box_gather},
    {"fold-affine", "fold layer scales and LayerNorm affines into the linear op next to them",
     pass_fold_affine},
    {"fuse-epilogue", "fuse GELU and the residual add into the pointwise layer before them",
     pass_fuse_epilogue},
    {"fuse-norm",
     "fuse each LayerNorm without affine into the pointwise or patchify conv reading it",
     pass_fuse_norm},
};

static void dump_ir(FILE *f, const ir_graph *g, const char *title)
{
    char *text = ir_print(g);
    fprintf(f, "# ---- IR %s ----\n%s", title, text);
    free(text);
}

int run_passes(ir_graph *g, const pass_options *o, FILE *dump, pelk_diag *d)
{
    if (ir_verify(g, d))
        return -1;
    if (dump)
        dump_ir(dump, g, "as built from the spec");
    for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++) {
        if (pipeline[i].run(g, o, d))
            return -1;
        ir_drop_unused_consts(g);
        if (ir_verify(g, d))
            return -1;
        if (dump) {
            char title[160];
            snprintf(title, sizeof title, "after %s (%s)", pipeline[i].name, pipeline[i].what);
            dump_ir(dump, g, title);
        }
    }
    return 0;
}
