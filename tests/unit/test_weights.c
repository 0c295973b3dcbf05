/* The weight loader's contract: every missing, extra, misshapen or non-F32
 * tensor is named with expected and actual shape; truncated or corrupt files
 * are errors, never crashes. Files are written here from the graph's own
 * constant list, then damaged one way at a time. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../frontend/build_graph.h"
#include "check.h"

static const char spec_text[] =
    "name: tiny\ninput: {channels: 2, height: 8, width: 8}\nstem: {kernel: 2, stride: 2}\n"
    "stages: [{dim: 4, depth: 1, kernel: 3, grid: [1, 1, 1]}]\nhead: {classes: 3}\n";

typedef enum damage { NONE, DROP, EXTRA, RESHAPE, F16, TRUNCATE, BAD_JSON, BIG_HEADER,
                      BAD_OFFSETS } damage;

/* Write the graph's constants as safetensors to path, damaged as asked;
 * `victim` names the tensor DROP/RESHAPE/F16 act on. */
static void write_file(const ir_graph *g, const char *path, damage dmg, const char *victim)
{
    char *json = calloc(1, 1 << 16);
    size_t used = 0;
    int64_t off = 0;
    used += (size_t)sprintf(json + used, "{\"__metadata__\": {\"format\": \"pt\"}");
    for (int i = 0; i < g->n_consts; i++) {
        const ir_const *c = &g->consts[i];
        int is_victim = !strcmp(c->name, victim);
        if (dmg == DROP && is_victim)
            continue;
        int64_t bytes = ir_const_numel(c) * 4;
        used += (size_t)sprintf(json + used, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [", c->name,
                                dmg == F16 && is_victim ? "F16" : "F32");
        for (int k = 0; k < c->rank; k++) {
            int dim = c->shape[k] + (dmg == RESHAPE && is_victim && k == 0);
            used += (size_t)sprintf(json + used, k ? ", %d" : "%d", dim);
        }
        if (dmg == RESHAPE && is_victim)
            bytes = bytes / c->shape[0] * (c->shape[0] + 1);
        if (dmg == F16 && is_victim)
            bytes /= 2;
        int64_t end = dmg == BAD_OFFSETS && is_victim ? off + bytes + (1 << 20) : off + bytes;
        used += (size_t)sprintf(json + used, "], \"data_offsets\": [%lld, %lld]}", (long long)off,
                                (long long)end);
        off += bytes;
    }
    if (dmg == EXTRA) { /* a well-formed tensor of its own, after the others */
        used += (size_t)sprintf(json + used, ", \"stray\": {\"dtype\": \"F32\", \"shape\": [2, 2], "
                                             "\"data_offsets\": [%lld, %lld]}",
                                (long long)off, (long long)off + 16);
        off += 16;
    }
    used += (size_t)sprintf(json + used, dmg == BAD_JSON ? "," : "}");
    while (used % 8)
        json[used++] = ' ';
    FILE *f = fopen(path, "wb");
    uint64_t hlen = dmg == BIG_HEADER ? (uint64_t)1 << 40 : used;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(json, 1, used, f);
    int64_t data = dmg == TRUNCATE ? off / 2 : off;
    for (int64_t i = 0; i < data; i++)
        fputc(i & 0x7f, f);
    fclose(f);
    free(json);
}

static void expect(ir_graph *g, const char *path, damage dmg, const char *victim, const char *want)
{
    pelk_diag d;
    write_file(g, path, dmg, victim);
    int rc = bind_weights(g, path, &d);
    if (!want) {
        CHECK(rc == 0);
        if (rc)
            fprintf(stderr, "  unexpected error: %s\n", d.msg);
        return;
    }
    CHECK(rc == -1);
    if (rc == -1) {
        /* messages start with the path; compare what follows it */
        CHECK(!strncmp(d.msg, path, strlen(path)));
        CHECK_STR(d.msg + strlen(path), want);
    }
}

int main(void)
{
    model_spec s;
    pelk_diag d;
    if (spec_parse(&s, spec_text, sizeof spec_text - 1, "tiny.yaml", &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    ir_graph *g = build_graph(&s, NULL, &d);
    char path[] = "/tmp/pelkc-weights-XXXXXX";
    int fd = mkstemp(path);
    close(fd);

    expect(g, path, NONE, "", NULL);
    CHECK(g->consts[0].data != NULL);
    expect(g, path, DROP, "stages.0.blocks.0.fc1.bias",
           ": missing tensor 'stages.0.blocks.0.fc1.bias' (expected F32 [16])");
    expect(g, path, EXTRA, "",
           ": unexpected tensor 'stray' [2, 2]: the spec has no such weight");
    expect(g, path, RESHAPE, "stages.0.blocks.0.conv.weight",
           ": tensor 'stages.0.blocks.0.conv.weight' has shape [2, 1, 3, 3], expected [1, 1, 3, "
           "3]");
    expect(g, path, F16, "stages.0.kpe",
           ": tensor 'stages.0.kpe' has dtype F16, expected F32");
    int64_t total = 0; /* bytes of data in an undamaged file */
    for (int i = 0; i < g->n_consts; i++)
        total += ir_const_numel(&g->consts[i]) * 4;
    char want[256];
    /* the first tensor whose data_offsets pass the end of the halved data */
    snprintf(want, sizeof want,
             ": tensor 'stages.0.blocks.0.fc1.weight': data_offsets lie outside the %lld-byte data "
             "section", (long long)total / 2);
    expect(g, path, TRUNCATE, "", want);
    expect(g, path, BAD_JSON, "", ": the header is not a JSON object");
    write_file(g, path, BIG_HEADER, "");
    FILE *probe = fopen(path, "rb");
    fseek(probe, 0, SEEK_END);
    long file_size = ftell(probe);
    fclose(probe);
    snprintf(want, sizeof want,
             ": header length 1099511627776 does not fit the %ld-byte file (truncated or not "
             "safetensors)", file_size);
    expect(g, path, BIG_HEADER, "", want);
    snprintf(want, sizeof want,
             ": tensor 'head.bias': data_offsets lie outside the %lld-byte data section",
             (long long)total);
    expect(g, path, BAD_OFFSETS, "head.bias", want);

    /* files that are not safetensors at all */
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    CHECK(bind_weights(g, path, &d) == -1);
    CHECK(strstr(d.msg, "not a safetensors file (only 3 bytes)") != NULL);
    CHECK(bind_weights(g, "/nonexistent/w.safetensors", &d) == -1);
    CHECK_STR(d.msg, "/nonexistent/w.safetensors: cannot open: No such file or directory");

    unlink(path);
    ir_free(g);
    spec_free(&s);
    return check_summary();
}
