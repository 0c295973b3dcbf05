/* Parser for the IR's text form: the inverse of ir_print (spec/IR.md).
 * Constants parse without data; bind weights afterwards if needed. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* Sizes the text may give: those a spec can lead to (spec/SPEC.md's limits,
 * with room for the values the passes create), so that no size, cost or
 * schedule computed from a parsed graph overflows. */
enum {
    IR_MAX_CHANNELS = 1 << 28, /* a region_gather's g * k'c */
    IR_MAX_MAP = 1 << 16,      /* a row_boxes' padded height */
    IR_MAX_G = 1 << 16,
    IR_MAX_KERNEL = 4095,
    IR_MAX_CONST_DIM = 1 << 28,
};

typedef struct lexer {
    const char *p;
    const char *file;
    int line, col;
    pelk_diag *d;
    /* current token */
    char tok[256];
    int tok_line, tok_col;
    int is_word; /* tok is a run of name characters (else one punctuation char, or "" at end) */
} lexer;

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == '+';
}

static void advance(lexer *lx)
{
    if (*lx->p == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->p++;
}

static int lex_err(lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int lex_err(lexer *lx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++) /* a stray control byte is a token: keep the message one line */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return diag_at(lx->d, lx->file, lx->tok_line, lx->tok_col, "%s", msg);
}

/* Read the next token into lx->tok. */
static int next(lexer *lx)
{
    for (;;) {
        while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n')
            advance(lx);
        if (*lx->p != '#')
            break;
        while (*lx->p && *lx->p != '\n')
            advance(lx);
    }
    lx->tok_line = lx->line;
    lx->tok_col = lx->col;
    lx->is_word = 0;
    if (!*lx->p) {
        lx->tok[0] = '\0';
        return 0;
    }
    if (!is_word_char(*lx->p)) {
        lx->tok[0] = *lx->p;
        lx->tok[1] = '\0';
        advance(lx);
        return 0;
    }
    size_t n = 0;
    while (is_word_char(*lx->p)) {
        if (n + 1 >= sizeof lx->tok)
            return lex_err(lx, "name too long");
        lx->tok[n++] = *lx->p;
        advance(lx);
    }
    lx->tok[n] = '\0';
    lx->is_word = 1;
    return 0;
}

static int expect(lexer *lx, const char *s)
{
    if (strcmp(lx->tok, s))
        return lex_err(lx, "expected '%s', got '%s'", s, lx->tok[0] ? lx->tok : "end of input");
    return next(lx);
}

static int take_word(lexer *lx, char *out, size_t cap, const char *what)
{
    if (!lx->is_word)
        return lex_err(lx, "expected %s, got '%s'", what, lx->tok[0] ? lx->tok : "end of input");
    snprintf(out, cap, "%s", lx->tok);
    return next(lx);
}

/* '%' NAME or '@' NAME */
static int take_ref(lexer *lx, char sigil, char *out, size_t cap)
{
    if (lx->tok[0] != sigil || lx->tok[1])
        return lex_err(lx, "expected '%c' and a name, got '%s'", sigil, lx->tok);
    if (next(lx))
        return -1;
    return take_word(lx, out, cap, "a name");
}

static int take_int(lexer *lx, int *out)
{
    char *end;
    errno = 0;
    long v = lx->is_word ? strtol(lx->tok, &end, 10) : 0;
    if (!lx->is_word || *end || errno || v < 0 || v > (1L << 30))
        return lex_err(lx, "expected a non-negative integer, got '%s'", lx->tok);
    *out = (int)v;
    return next(lx);
}

/* '[' INT (',' INT)* ']' into a malloc'd array */
static int take_int_list(lexer *lx, int **out, int *n)
{
    int cap = 8;
    *out = xcalloc((size_t)cap, sizeof **out);
    *n = 0;
    if (expect(lx, "["))
        return -1;
    while (strcmp(lx->tok, "]")) {
        if (*n && expect(lx, ","))
            return -1;
        if (*n == cap) {
            int *nb = realloc(*out, (size_t)cap * 2 * sizeof **out);
            if (!nb)
                return lex_err(lx, "out of memory");
            *out = nb;
            cap *= 2;
        }
        if (take_int(lx, &(*out)[(*n)++]))
            return -1;
    }
    return next(lx);
}

/* f32[N,C,H,W] or f32[N,C] */
static int take_value_type(lexer *lx, int *rank, int *c, int *h, int *w)
{
    if (expect(lx, "f32") || expect(lx, "[") || expect(lx, "N"))
        return -1;
    int dims[3] = {0, 1, 1}, n = 0;
    while (!strcmp(lx->tok, ",")) {
        if (next(lx))
            return -1;
        if (n == 3)
            return lex_err(lx, "values have rank 2 or 4");
        if (take_int(lx, &dims[n++]))
            return -1;
    }
    if (n != 1 && n != 3)
        return lex_err(lx, "values have rank 2 or 4");
    if (dims[0] > IR_MAX_CHANNELS || dims[1] > IR_MAX_MAP || dims[2] > IR_MAX_MAP)
        return lex_err(lx, "values have at most %d channels and maps of at most %dx%d",
                       IR_MAX_CHANNELS, IR_MAX_MAP, IR_MAX_MAP);
    *rank = n + 1;
    *c = dims[0];
    *h = dims[1];
    *w = dims[2];
    return expect(lx, "]");
}

static int parse_attr(lexer *lx, ir_op *op)
{
    char key[32];
    int line = lx->tok_line, col = lx->tok_col;
    if (take_word(lx, key, sizeof key, "an attribute name") || expect(lx, "="))
        return -1;
    if (!strcmp(key, "rows") || !strcmp(key, "cols")) {
        sharing_grid *gr = key[0] == 'r' ? &op->rows : &op->cols;
        grid_free(gr);
        if (take_int_list(lx, &gr->size, &gr->n))
            return -1;
        /* (ir_add_op copies only a grid with regions: an empty one's array would be shared) */
        return gr->n ? 0 : diag_at(lx->d, lx->file, line, col, "%s must list at least one region",
                                   key);
    }
    if (!strcmp(key, "stride"))
        return take_int(lx, &op->stride);
    if (!strcmp(key, "g") || !strcmp(key, "kernel")) {
        int *v = key[0] == 'g' ? &op->g : &op->kernel, hi = key[0] == 'g' ? IR_MAX_G : IR_MAX_KERNEL;
        if (take_int(lx, v))
            return -1;
        return *v > hi ? diag_at(lx->d, lx->file, line, col, "%s must be at most %d, got %d", key,
                                 hi, *v)
                       : 0;
    }
    if (!strcmp(key, "eps") || !strcmp(key, "norm")) { /* norm: a fused LayerNorm's eps */
        char *end;
        op->eps = lx->is_word ? strtod(lx->tok, &end) : 0;
        if (!lx->is_word || *end)
            return lex_err(lx, "expected a number, got '%s'", lx->tok);
        return next(lx);
    }
    if (!strcmp(key, "act")) {
        if (!lx->is_word || (strcmp(lx->tok, "gelu") && strcmp(lx->tok, "none")))
            return lex_err(lx, "act must be none or gelu; got '%s'", lx->tok);
        op->act = !strcmp(lx->tok, "gelu");
        return next(lx);
    }
    if (!strcmp(key, "kpe")) {
        int k = lx->is_word ? ir_kpe_from_name(lx->tok) : -1;
        if (k < 0)
            return lex_err(lx, "kpe must be none, constant, border or map; got '%s'", lx->tok);
        op->kpe = (ir_kpe)k;
        return next(lx);
    }
    return diag_at(lx->d, lx->file, line, col, "unknown attribute '%s'", key);
}

/* %NAME: TYPE = OPNAME(operands) {attrs} */
static int parse_op(lexer *lx, ir_graph *g)
{
    char name[256], opname[64];
    int rank, c, h, w;
    if (take_ref(lx, '%', name, sizeof name) || expect(lx, ":") ||
        take_value_type(lx, &rank, &c, &h, &w) || expect(lx, "="))
        return -1;
    int line = lx->tok_line, col = lx->tok_col;
    if (take_word(lx, opname, sizeof opname, "an op name"))
        return -1;
    int kind = ir_op_kind_from_name(opname);
    if (kind < 0)
        return diag_at(lx->d, lx->file, line, col, "unknown op '%s'", opname);
    if (ir_find_value(g, name) >= 0)
        return diag_at(lx->d, lx->file, line, col, "%%%s is defined twice", name);

    ir_op op;
    memset(&op, 0, sizeof op);
    op.kind = (op_kind)kind;
    int rc = expect(lx, "(");
    while (!rc && strcmp(lx->tok, ")")) {
        if (op.n_in + op.n_cst && (rc = expect(lx, ",")))
            break;
        char ref[256];
        char sigil = lx->tok[0];
        line = lx->tok_line;
        col = lx->tok_col;
        if ((rc = take_ref(lx, sigil == '@' ? '@' : '%', ref, sizeof ref)))
            break;
        if (sigil == '@') {
            int id = ir_find_const(g, ref);
            if (id < 0 || op.n_cst == 5)
                rc = diag_at(lx->d, lx->file, line, col, "%s constant @%s",
                             id < 0 ? "undeclared" : "too many constants:", ref);
            else
                op.cst[op.n_cst++] = id;
        } else {
            int id = ir_find_value(g, ref);
            if (id < 0 || op.n_in == 2 || op.n_cst)
                rc = diag_at(lx->d, lx->file, line, col, "%s value %%%s",
                             id < 0 ? "undefined" : "misplaced", ref);
            else
                op.in[op.n_in++] = id;
        }
    }
    if (!rc)
        rc = next(lx);
    if (!rc && !strcmp(lx->tok, "{")) {
        rc = next(lx);
        while (!rc && strcmp(lx->tok, "}")) {
            if (!rc && (rc = parse_attr(lx, &op)))
                break;
            if (strcmp(lx->tok, "}"))
                rc = expect(lx, ",");
        }
        if (!rc)
            rc = next(lx);
    }
    if (!rc) {
        op.out = ir_add_value(g, name, rank, c, h, w);
        ir_add_op(g, &op);
    }
    grid_free(&op.rows);
    grid_free(&op.cols);
    return rc;
}

static int parse_items(lexer *lx, ir_graph *g)
{
    char name[256];
    while (strcmp(lx->tok, "}")) {
        if (!lx->tok[0])
            return lex_err(lx, "unexpected end of input: missing '}'");
        if (!strcmp(lx->tok, "input")) {
            int rank, c, h, w;
            if (next(lx) || take_ref(lx, '%', name, sizeof name) || expect(lx, ":") ||
                take_value_type(lx, &rank, &c, &h, &w))
                return -1;
            if (g->input >= 0)
                return lex_err(lx, "a graph has one input");
            g->input = ir_add_value(g, name, rank, c, h, w);
        } else if (!strcmp(lx->tok, "const")) {
            int *shape, rank;
            if (next(lx) || take_ref(lx, '@', name, sizeof name) || expect(lx, ":") ||
                expect(lx, "f32"))
                return -1;
            if (ir_find_const(g, name) >= 0)
                return lex_err(lx, "@%s is declared twice", name);
            int rc = take_int_list(lx, &shape, &rank);
            if (!rc && (rank < 1 || rank > 4))
                rc = lex_err(lx, "constants have rank 1 to 4");
            int64_t numel = 1;
            for (int i = 0; !rc && i < rank; i++) {
                if (shape[i] > IR_MAX_CONST_DIM ||
                    (shape[i] && numel > ((int64_t)1 << 40) / shape[i])) /* before multiplying */
                    rc = lex_err(lx, "@%s: constants have at most 2^40 elements, of at most 2^28 "
                                     "per dimension",
                                 name);
                else
                    numel *= shape[i];
            }
            if (!rc)
                ir_add_const(g, name, rank, shape);
            free(shape);
            if (rc)
                return -1;
        } else if (!strcmp(lx->tok, "output")) {
            if (next(lx) || take_ref(lx, '%', name, sizeof name))
                return -1;
            g->output = ir_find_value(g, name);
            if (g->output < 0)
                return lex_err(lx, "undefined output %%%s", name);
        } else if (parse_op(lx, g)) {
            return -1;
        }
    }
    return next(lx);
}

/* Every op's cost, and the graph's, must fit the int64 counts of ir_op_macs
 * and ir_print: bound them in double (gathers by k'r * k'c per output). */
static int check_costs(const ir_graph *g, pelk_diag *d)
{
    double total = 0;
    for (int i = 0; i < g->n_ops; i++) {
        const ir_op *op = &g->ops[i];
        const ir_value *out = &g->values[op->out], *in = &g->values[op->in[0]];
        double pixels = (double)out->h * out->w, macs = 0;
        if (op->kind == OP_CONV2D)
            macs = pixels * (double)ir_const_numel(&g->consts[op->cst[0]]);
        else if (op->kind == OP_PERIPH_CONV || op->kind == OP_DWCONV)
            macs = pixels * op->g * op->kernel * op->kernel;
        else if (op->kind == OP_BOX_GATHER || op->kind == OP_REGION_GATHER)
            macs = pixels * op->g * ((double)op->rows.n * op->cols.n + 4.0 * op->kernel);
        else if (op->kind == OP_POINTWISE)
            macs = pixels * in->c * out->c;
        total += macs;
        if (total > 0x1p62)
            return diag_set(d, "graph %s: op %d (%%%s) brings the cost past 2^62 multiply-adds "
                               "per image",
                            g->name, i, out->name);
    }
    return 0;
}

ir_graph *ir_parse(const char *text, const char *filename, pelk_diag *d)
{
    lexer lx = {.p = text, .file = filename, .line = 1, .col = 1, .d = d};
    char name[256];
    if (next(&lx) || expect(&lx, "graph") || take_word(&lx, name, sizeof name, "a graph name"))
        return NULL;
    ir_graph *g = ir_new(name);
    if (expect(&lx, "{") || parse_items(&lx, g)) {
        ir_free(g);
        return NULL;
    }
    if (lx.tok[0]) {
        lex_err(&lx, "unexpected '%s' after the graph", lx.tok);
        ir_free(g);
        return NULL;
    }
    if (ir_verify(g, d) || check_costs(g, d)) {
        ir_free(g);
        return NULL;
    }
    return g;
}
