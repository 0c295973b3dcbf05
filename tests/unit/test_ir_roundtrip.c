/* The IR text form round-trips: print, parse, print gives the same text, for
 * every spec given on the command line, before and after the passes. Parse
 * errors carry file:line:col. */
#include <stdlib.h>

#include "../../frontend/build_graph.h"
#include "../../passes/passes.h"
#include "check.h"

static void roundtrip(const ir_graph *g, const char *what)
{
    pelk_diag d;
    char *first = ir_print(g);
    ir_graph *back = ir_parse(first, what, &d);
    CHECK(back != NULL);
    if (!back) {
        fprintf(stderr, "  %s: %s\n", what, d.msg);
        free(first);
        return;
    }
    char *second = ir_print(back);
    CHECK(!strcmp(first, second));
    if (strcmp(first, second))
        fprintf(stderr, "  %s: the text changed after a round trip\n", what);
    CHECK(back->n_ops == g->n_ops && back->n_consts == g->n_consts);
    ir_free(back);
    free(first);
    free(second);
}

static void expect_parse_error(const char *text, const char *want)
{
    pelk_diag d;
    ir_graph *g = ir_parse(text, "t.ir", &d);
    CHECK(g == NULL);
    if (!g)
        CHECK_STR(d.msg, want);
    ir_free(g);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        model_spec s;
        pelk_diag d;
        if (spec_load(&s, argv[i], &d)) {
            fprintf(stderr, "%s\n", d.msg);
            check_failed++;
            continue;
        }
        ir_graph *g = build_graph(&s, NULL, &d);
        roundtrip(g, argv[i]);
        pass_options o = {.periph_dense = 1};
        CHECK(run_passes(g, &o, NULL, &d) == 0);
        roundtrip(g, argv[i]);
        ir_free(g);
        spec_free(&s);
    }

    const char *head = "graph t {\n  input %x: f32[N,2,4,4]\n  const @w: f32[2]\n  const @b: f32[2]\n";
    char text[512];
    snprintf(text, sizeof text, "%s  %%y: f32[N,2,4,4] = layernorm(%%x, @w, @b) {eps=1e-06}\n"
                                "  output %%y\n}\n", head);
    ir_graph *g = ir_parse(text, "t.ir", &(pelk_diag){0});
    CHECK(g && g->n_ops == 1 && g->ops[0].eps == 1e-6);
    ir_free(g);
    snprintf(text, sizeof text, "%s  %%y: f32[N,2,4,4] = layernorn(%%x, @w, @b)\n}\n", head);
    expect_parse_error(text, "t.ir:5:22: unknown op 'layernorn'");
    snprintf(text, sizeof text, "%s  %%y: f32[N,2,4,4] = layernorm(%%z, @w, @b)\n}\n", head);
    expect_parse_error(text, "t.ir:5:32: undefined value %z");
    snprintf(text, sizeof text, "%s  %%y: f32[N,2,4,4] = layernorm(%%x, @w, @q)\n}\n", head);
    expect_parse_error(text, "t.ir:5:40: undeclared constant @q");
    snprintf(text, sizeof text, "%s  %%y: f32[N,3,4,4] = layernorm(%%x, @w, @b) {eps=1e-06}\n"
                                "  output %%y\n}\n", head);
    expect_parse_error(text, "op 0 (layernorm -> %y): %x and %y differ in shape");
    snprintf(text, sizeof text, "%s  %%y: f32[N,2,4,4] = gelu(%%x) {colour=2}\n}\n", head);
    expect_parse_error(text, "t.ir:5:32: unknown attribute 'colour'");
    expect_parse_error("graph t {\n  input %x: f32[N,2,4,4]\n", "t.ir:3:1: unexpected end of input: missing '}'");
    return check_summary();
}
