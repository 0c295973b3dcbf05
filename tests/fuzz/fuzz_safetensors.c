/* libFuzzer target: the safetensors reader (frontend/safetensors.c) on
 * arbitrary bytes; a file that parses is then bound to a small fixed spec's
 * graph the way `pelkc compile --weights` does it (build_graph with the file,
 * for the optional BatchNorm and small-kernel tensors, then
 * bind_weights_file), and on success the passes run over the bound graph. */
#include "../../frontend/build_graph.h"
#include "../../passes/passes.h"
#include "fuzz_common.h"

/* the same spec as corpus/safetensors/ was written for (make_seeds.py) */
static const char spec_text[] =
    "name: tiny\ninput: {channels: 2, height: 8, width: 8}\nstem: {kernel: 2, stride: 2}\n"
    "stages: [{dim: 4, depth: 1, kernel: 5, grid: [2, 1, 2]}]\n"
    "block: {partial: 0.5, mlp_ratio: 2, kpe: border}\nhead: {classes: 3}\n";

static model_spec spec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pelk_diag d;
    if (!spec.name && spec_parse(&spec, spec_text, sizeof spec_text - 1, "tiny.yaml", &d)) {
        fprintf(stderr, "%s\n", d.msg);
        abort();
    }
    unsigned char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    st_file f;
    d.msg[0] = '\0';
    if (st_parse(&f, buf, size, "fuzz.safetensors", &d)) { /* buf is freed */
        check_diag(&d, "fuzz.safetensors: ");
        return 0;
    }
    for (int i = 0; i < f.n; i++) {
        const st_tensor *t = &f.tensors[i];
        FUZZ_CHECK(t->data >= f.buf + 8 && t->data + t->nbytes <= f.buf + f.len,
                   "tensor '%s' outside the file", t->name);
        FUZZ_CHECK(t->rank >= 0 && t->rank <= ST_MAX_RANK, "rank %d", t->rank);
        if (!strcmp(t->dtype, "F32")) {
            int64_t numel = 1;
            for (int k = 0; k < t->rank; k++)
                numel *= t->shape[k];
            FUZZ_CHECK((uint64_t)numel * 4 == t->nbytes, "tensor '%s': %lld elements, %zu bytes",
                       t->name, (long long)numel, t->nbytes);
        }
        for (int j = 0; j < i; j++) {
            const st_tensor *u = &f.tensors[j];
            FUZZ_CHECK(strcmp(t->name, u->name), "tensor '%s' twice", t->name);
            FUZZ_CHECK(!t->nbytes || !u->nbytes || t->data + t->nbytes <= u->data ||
                           u->data + u->nbytes <= t->data,
                       "tensors '%s' and '%s' overlap", t->name, u->name);
        }
    }
    ir_graph *g = build_graph(&spec, &f, &d);
    if (!g) {
        check_diag(&d, "fuzz.safetensors: ");
    } else if (bind_weights_file(g, &f, &d)) {
        check_diag(&d, "fuzz.safetensors: ");
    } else {
        for (int i = 0; i < g->n_consts; i++)
            FUZZ_CHECK(g->consts[i].data != NULL, "constant '%s' unbound", g->consts[i].name);
        pass_options po = {0};
        FUZZ_CHECK(run_passes(g, &po, NULL, &d) == 0, "passes failed: %s", d.msg);
    }
    ir_free(g);
    st_close(&f);
    return 0;
}
