/* libFuzzer target: the IR text parser (ir/ir_parse.c). Text that parses
 * (and so verifies) must print, parse back and print to the same text. */
#include "../../ir/ir.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1); /* ir_parse reads a C string */
    memcpy(text, data, size);
    text[size] = '\0';
    pelk_diag d;
    d.msg[0] = '\0';
    ir_graph *g = ir_parse(text, "fuzz.ir", &d);
    free(text);
    if (!g) {
        /* parse errors carry fuzz.ir:line:col; the verifier's name the op */
        FUZZ_CHECK(d.msg[0], "no message");
        check_diag(&d, "");
        return 0;
    }
    char *first = ir_print(g);
    ir_graph *back = ir_parse(first, "printed.ir", &d);
    FUZZ_CHECK(back != NULL, "printed IR does not parse: %s\n%s", d.msg, first);
    char *second = ir_print(back);
    FUZZ_CHECK(!strcmp(first, second), "round trip changed the text:\n%s\n----\n%s", first,
               second);
    FUZZ_CHECK(back->n_ops == g->n_ops && back->n_consts == g->n_consts &&
                   back->n_values == g->n_values,
               "round trip changed the graph");
    free(first);
    free(second);
    ir_free(back);
    ir_free(g);
    return 0;
}
