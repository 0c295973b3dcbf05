/* Every kind of spec mistake gives "file:line:col: message", and good specs
 * parse with the right derived sizes. */
#include <stdlib.h>

#include "../../frontend/spec.h"
#include "check.h"

/* A valid base the cases below edit: line 3 is the stages list. */
#define HEAD "name: t\ninput: {channels: 3, height: 32, width: 32}\n"

static void expect_error(const char *yaml, const char *want)
{
    model_spec s;
    pelk_diag d;
    int rc = spec_parse(&s, yaml, strlen(yaml), "t.yaml", &d);
    CHECK(rc == -1);
    if (rc == -1)
        CHECK_STR(d.msg, want);
    else
        spec_free(&s);
}

int main(void)
{
    /* unknown keys, at every level */
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 5}]\ncolour: red\n",
                 "t.yaml:4:1: unknown key 'colour' in the spec (expected one of: name, input, "
                 "stem, stages, block, head)");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 5, kernal: 3}]\n",
                 "t.yaml:3:40: unknown key 'kernal' in stage 0 (expected one of: dim, depth, "
                 "kernel, grid)");
    expect_error("name: t\ninput: {channels: 3, height: 32, widht: 32}\nstages: []\n",
                 "t.yaml:2:34: unknown key 'widht' in input (expected one of: channels, height, "
                 "width)");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 5}]\nblock: {partial: 0.5, kpe: "
                      "constant, mlp: 4}\n",
                 "t.yaml:4:38: unknown key 'mlp' in block (expected one of: partial, mlp_ratio, "
                 "kpe)");
    /* missing keys */
    expect_error("name: t\nstages: [{dim: 8, depth: 1, kernel: 5}]\n",
                 "t.yaml:1:1: the spec is missing required key 'input'");
    expect_error(HEAD "stages: [{dim: 8, kernel: 5}]\n",
                 "t.yaml:3:10: stage 0 is missing required key 'depth'");
    /* wrong types */
    expect_error(HEAD "stages: [{dim: eight, depth: 1, kernel: 5}]\n",
                 "t.yaml:3:16: dim must be an integer, got 'eight'");
    expect_error(HEAD "stages: [{dim: \"8\", depth: 1, kernel: 5}]\n",
                 "t.yaml:3:16: dim must be an integer, got the quoted string '8'");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 5.0}]\n",
                 "t.yaml:3:37: kernel must be an integer, got '5.0'");
    expect_error(HEAD "stages: {dim: 8}\n", "t.yaml:3:9: stages must be a list, got a mapping");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 5}]\nblock: {kpe: sometimes}\n",
                 "t.yaml:4:14: kpe must be one of constant, border, none; got 'sometimes'");
    expect_error(HEAD "stages: [{dim: [8], depth: 1, kernel: 5}]\n",
                 "t.yaml:3:16: dim must be an integer, got a list");
    /* grids */
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 7, grid: [3, 1, 2]}]\n",
                 "t.yaml:3:46: grid sums to 6 but the kernel is 7");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 7, grid: {rows: [3,1,3], cols: "
                      "[1,1,1]}}]\n",
                 "t.yaml:3:68: grid cols sums to 3 but the kernel is 7");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 7, grid: {center: 4, base: 2}}]\n",
                 "t.yaml:3:55: grid center must be odd, got 4");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 7, grid: [3, 0, 4]}]\n",
                 "t.yaml:3:50: a grid entry must be between 1 and 4095, got 0");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 7, grid: {center: 3}}]\n",
                 "t.yaml:3:46: grid is missing required key 'base'");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 7, grid: 7}]\n",
                 "t.yaml:3:46: grid must be a rule {center: c, base: m} or a list, got a scalar");
    /* values out of range */
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 6}]\n",
                 "t.yaml:3:37: kernel must be odd, got 6");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 5}]\nblock: {partial: 0}\n",
                 "t.yaml:4:18: partial must be in (0, 1], got 0");
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 5}]\nblock: {partial: 1.5}\n",
                 "t.yaml:4:18: partial must be in (0, 1], got 1.5");
    expect_error(HEAD "stages: []\n", "t.yaml:3:9: stages must hold at least one stage");
    expect_error(HEAD "stages: [{dim: 0, depth: 1, kernel: 5}]\n",
                 "t.yaml:3:16: dim must be between 1 and 65536, got 0");
    /* maps that vanish */
    expect_error("name: t\ninput: {channels: 3, height: 3, width: 32}\nstem: {kernel: 4, stride: "
                 "4}\nstages: [{dim: 8, depth: 1, kernel: 5}]\n",
                 "t.yaml:3:7: the stem's 4x4 kernel does not fit the 3x32 input: the map shrinks "
                 "below 1 pixel");
    expect_error("name: t\ninput: {channels: 3, height: 8, width: 32}\nstages:\n  - {dim: 8, "
                 "depth: 1, kernel: 5}\n  - {dim: 8, depth: 1, kernel: 5}\n  - {dim: 8, depth: "
                 "1, kernel: 5}\n",
                 "t.yaml:6:5: stage 2's downsample shrinks the 1x4 map below 1 pixel (0x2)");
    /* YAML syntax, duplicates, empty input */
    expect_error(HEAD "stages: [{dim: 8, depth: 1, kernel: 5}\n",
                 "t.yaml:4:1: YAML syntax error: did not find expected ',' or ']' while parsing "
                 "a flow sequence");
    expect_error(HEAD "stages: [{dim: 8, dim: 9, depth: 1, kernel: 5}]\n",
                 "t.yaml:3:19: key 'dim' appears twice in stage 0");
    expect_error("", "t.yaml:1:1: the spec is empty");
    expect_error("- 1\n- 2\n", "t.yaml:1:1: the spec must be a mapping, got a list");

    /* a good spec: defaults and derived sizes */
    const char *good = HEAD "stem: {kernel: 2, stride: 2}\nstages:\n  - {dim: 10, depth: 1, "
                            "kernel: 51}\n  - {dim: 20, depth: 2, kernel: 7, grid: [3, 1, 3]}\n"
                            "block: {partial: 0.25, mlp_ratio: 2.5}\n";
    model_spec s;
    pelk_diag d;
    CHECK(spec_parse(&s, good, strlen(good), "good.yaml", &d) == 0);
    CHECK(s.n_stages == 2 && s.kpe == KPE_CONSTANT && s.classes == 1000);
    CHECK(s.stages[0].map_h == 16 && s.stages[1].map_w == 8);
    CHECK(s.stages[0].conv_channels == 2 && s.stages[0].hidden == 25);
    CHECK(s.stages[0].rows.n == 13 && s.stages[1].cols.n == 3);
    spec_free(&s);

    /* sizes are floored on the decimal as written: 0.29 * 100 is 29 (28 in double) */
    const char *exact = HEAD "stages: [{dim: 100, depth: 1, kernel: 3}]\n"
                             "block: {partial: 0.29, mlp_ratio: 0.57}\n";
    CHECK(spec_parse(&s, exact, strlen(exact), "exact.yaml", &d) == 0);
    CHECK(s.stages[0].conv_channels == 29 && s.stages[0].hidden == 57);
    spec_free(&s);
    const char *sci = HEAD "stages: [{dim: 64, depth: 1, kernel: 3}]\n"
                           "block: {partial: 375e-3, mlp_ratio: 2.5E0}\n";
    CHECK(spec_parse(&s, sci, strlen(sci), "sci.yaml", &d) == 0);
    CHECK(s.stages[0].conv_channels == 24 && s.stages[0].hidden == 160);
    spec_free(&s);
    return check_summary();
}
