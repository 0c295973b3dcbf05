/* The grid rule against NOTES.md's table (checked there against the paper's
 * Tables 5-6), the dense limit, and the rule's argument errors. */
#include <stdlib.h>

#include "../../ir/grid.h"
#include "../../frontend/spec.h"
#include "check.h"

static void expect_rule(int k, int c, int m, const char *want)
{
    sharing_grid g;
    pelk_diag d;
    char got[512];
    CHECK(grid_from_rule(&g, k, c, m, &d) == 0);
    grid_format(&g, got, sizeof got);
    CHECK_STR(got, want);
    CHECK(grid_sum(&g) == k);
    grid_free(&g);
}

int main(void)
{
    /* NOTES.md section 1 */
    expect_rule(31, 5, 2, "[7, 4, 2, 1, 1, 1, 1, 1, 2, 4, 7]");
    expect_rule(51, 1, 2, "[11, 8, 4, 2, 1, 2, 4, 8, 11]");
    expect_rule(51, 3, 2, "[10, 8, 4, 2, 1, 1, 1, 2, 4, 8, 10]");
    expect_rule(51, 5, 2, "[9, 8, 4, 2, 1, 1, 1, 1, 1, 2, 4, 8, 9]");
    expect_rule(51, 7, 2, "[8, 8, 4, 2, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8, 8]");
    expect_rule(101, 7, 2, "[17, 16, 8, 4, 2, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8, 16, 17]");
    expect_rule(13, 5, 2, "[2, 2, 1, 1, 1, 1, 1, 2, 2]");
    /* a remainder of zero adds no ring: r = 1+1+2+4 = 8 exactly */
    expect_rule(17, 5, 2, "[4, 2, 1, 1, 1, 1, 1, 2, 4]");
    /* base 3 */
    expect_rule(31, 3, 3, "[2, 9, 3, 1, 1, 1, 3, 9, 2]");
    /* a centre as wide as or wider than the kernel: dense */
    expect_rule(5, 5, 2, "[1, 1, 1, 1, 1]");
    expect_rule(5, 9, 2, "[1, 1, 1, 1, 1]");
    expect_rule(1, 5, 2, "[1]");
    /* base 1: every ring one tap, i.e. dense */
    expect_rule(7, 1, 1, "[1, 1, 1, 1, 1, 1, 1]");

    pelk_diag d;
    sharing_grid g;
    CHECK(grid_from_rule(&g, 50, 5, 2, &d) == -1);
    CHECK_STR(d.msg, "kernel must be odd and positive, got 50");
    CHECK(grid_from_rule(&g, 51, 4, 2, &d) == -1);
    CHECK_STR(d.msg, "grid center must be odd and positive, got 4");
    CHECK(grid_from_rule(&g, 51, 5, 0, &d) == -1);
    CHECK_STR(d.msg, "grid base must be at least 1, got 0");

    /* the command-line form of a grid (the spec's YAML syntax) */
    sharing_grid rows, cols;
    char got[256];
    CHECK(grid_parse_text("{rows: [2,2,1,1,1,1,1,2,2], cols: {center: 5, base: 2}}", 13, &rows,
                          &cols, &d) == 0);
    grid_format(&cols, got, sizeof got);
    CHECK_STR(got, "[2, 2, 1, 1, 1, 1, 1, 2, 2]");
    grid_free(&rows);
    grid_free(&cols);
    CHECK(grid_parse_text("[3, 1, 3]", 9, &rows, &cols, &d) == -1);
    CHECK_STR(d.msg, "--grid:1:1: grid sums to 7 but the kernel is 9");
    return check_summary();
}
