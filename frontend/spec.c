/* YAML spec -> model_spec, with libyaml's document API so that every node
 * keeps its line and column for error messages. */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* Limits that keep every derived size inside int arithmetic. */
enum { MAX_DIM = 1 << 16, MAX_MAP = 1 << 15, MAX_KERNEL = 4095, MAX_DEPTH = 1024 };
/* Limits on the YAML itself: a spec is a few hundred bytes and 5 levels deep.
 * libyaml takes time quadratic in the nesting depth, and ~150 bytes per node. */
enum { MAX_SPEC_BYTES = 1 << 20, MAX_NESTING = 32 };

typedef struct parse_ctx {
    yaml_document_t *doc;
    const char *file;
    pelk_diag *d;
} parse_ctx;

static int err_at(parse_ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Messages are one line: a key or value quoted in one may hold any byte. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static int err_at(parse_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printable(msg);
    int line = n ? (int)n->start_mark.line + 1 : 1;
    int col = n ? (int)n->start_mark.column + 1 : 1;
    return diag_at(c->d, c->file, line, col, "%s", msg);
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* ---- scalar values ---- */

static int get_int(parse_ctx *c, const yaml_node_t *n, const char *what, int lo, int hi, int *out)
{
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return err_at(c, n, "%s must be an integer, got the quoted string '%s'", what, scalar(n));
    if (n->type != YAML_SCALAR_NODE)
        return err_at(c, n, "%s must be an integer, got %s", what, node_kind(n));
    const char *s = scalar(n);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0')
        return err_at(c, n, "%s must be an integer, got '%s'", what, s);
    if (errno == ERANGE || v < lo || v > hi)
        return err_at(c, n, "%s must be between %d and %d, got %s", what, lo, hi, s);
    *out = (int)v;
    return 0;
}

static int get_number(parse_ctx *c, const yaml_node_t *n, const char *what, double *out)
{
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return err_at(c, n, "%s must be a number, got the quoted string '%s'", what, scalar(n));
    if (n->type != YAML_SCALAR_NODE)
        return err_at(c, n, "%s must be a number, got %s", what, node_kind(n));
    const char *s = scalar(n);
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return err_at(c, n, "%s must be a number, got '%s'", what, s);
    if (!isfinite(v))
        return err_at(c, n, "%s must be a finite number, got '%s'", what, s);
    *out = v;
    return 0;
}

static int get_string(parse_ctx *c, const yaml_node_t *n, const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return err_at(c, n, "%s must be a string, got %s", what, node_kind(n));
    *out = scalar(n);
    return 0;
}

/* ---- mappings with a fixed set of keys ---- */

typedef struct field {
    const char *key;
    yaml_node_t *value; /* filled by get_fields; NULL when absent */
    yaml_node_t *key_node;
} field;

/* Match the mapping's keys against fields[]; unknown or repeated keys are errors. */
static int get_fields(parse_ctx *c, yaml_node_t *map, const char *what, field *fields, int nf)
{
    if (map->type != YAML_MAPPING_NODE)
        return err_at(c, map, "%s must be a mapping, got %s", what, node_kind(map));
    for (int i = 0; i < nf; i++)
        fields[i].value = fields[i].key_node = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return err_at(c, k, "keys of %s must be names, got %s", what, node_kind(k));
        int found = -1;
        for (int i = 0; i < nf; i++)
            if (strcmp(fields[i].key, scalar(k)) == 0)
                found = i;
        if (found < 0) {
            char expected[256] = "";
            for (int i = 0; i < nf; i++) {
                strncat(expected, i ? ", " : "", sizeof expected - strlen(expected) - 1);
                strncat(expected, fields[i].key, sizeof expected - strlen(expected) - 1);
            }
            return err_at(c, k, "unknown key '%s' in %s (expected one of: %s)", scalar(k), what,
                          expected);
        }
        if (fields[found].value)
            return err_at(c, k, "key '%s' appears twice in %s", scalar(k), what);
        fields[found].value = v;
        fields[found].key_node = k;
    }
    return 0;
}

static int require(parse_ctx *c, yaml_node_t *map, field *f, const char *what)
{
    if (!f->value)
        return err_at(c, map, "%s is missing required key '%s'", what, f->key);
    return 0;
}

/* ---- grids ---- */

/* One side of a grid: a rule mapping or an explicit list. */
static int get_grid_side(parse_ctx *c, yaml_node_t *n, int kernel, const char *what,
                         sharing_grid *g)
{
    g->n = 0;
    g->size = NULL;
    if (n->type == YAML_MAPPING_NODE) {
        field f[] = {{"center"}, {"base"}};
        int center, base;
        if (get_fields(c, n, what, f, 2) || require(c, n, &f[0], what) ||
            require(c, n, &f[1], what) ||
            get_int(c, f[0].value, "grid center", 1, MAX_KERNEL, &center) ||
            get_int(c, f[1].value, "grid base", 1, MAX_KERNEL, &base))
            return -1;
        if (center % 2 == 0)
            return err_at(c, f[0].value, "grid center must be odd, got %d", center);
        pelk_diag inner;
        if (grid_from_rule(g, kernel, center, base, &inner))
            return err_at(c, n, "%s", inner.msg);
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return err_at(c, n, "%s must be a rule {center: c, base: m} or a list, got %s", what,
                      node_kind(n));
    int len = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (len == 0)
        return err_at(c, n, "%s must not be empty", what);
    if (len > MAX_KERNEL)
        return err_at(c, n, "%s has %d entries, more than the largest kernel %d", what, len,
                      MAX_KERNEL);
    int *sizes = xcalloc((size_t)len, sizeof *sizes);
    long long sum = 0;
    for (int i = 0; i < len; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
        if (get_int(c, item, "a grid entry", 1, MAX_KERNEL, &sizes[i])) {
            free(sizes);
            return -1;
        }
        sum += sizes[i];
    }
    if (sum != kernel) {
        free(sizes);
        return err_at(c, n, "%s sums to %lld but the kernel is %d", what, sum, kernel);
    }
    grid_from_list(g, sizes, len);
    free(sizes);
    return 0;
}

/* A grid: rule or list (both axes), or {rows: ..., cols: ...}. */
static int get_grid(parse_ctx *c, yaml_node_t *n, int kernel, sharing_grid *rows,
                    sharing_grid *cols)
{
    rows->n = cols->n = 0;
    rows->size = cols->size = NULL;
    int is_rows_cols = 0;
    if (n->type == YAML_MAPPING_NODE) {
        /* A mapping is either a rule or a rows/cols pair: look at its first key. */
        yaml_node_pair_t *p = n->data.mapping.pairs.start;
        if (p < n->data.mapping.pairs.top) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            is_rows_cols = k->type == YAML_SCALAR_NODE &&
                           (!strcmp(scalar(k), "rows") || !strcmp(scalar(k), "cols"));
        }
    }
    if (!is_rows_cols) {
        if (get_grid_side(c, n, kernel, "grid", rows))
            return -1;
        grid_copy(cols, rows);
        return 0;
    }
    field f[] = {{"rows"}, {"cols"}};
    if (get_fields(c, n, "grid", f, 2) || require(c, n, &f[0], "grid") ||
        require(c, n, &f[1], "grid"))
        return -1;
    if (get_grid_side(c, f[0].value, kernel, "grid rows", rows))
        return -1;
    if (get_grid_side(c, f[1].value, kernel, "grid cols", cols)) {
        grid_free(rows);
        return -1;
    }
    return 0;
}

/* ---- the whole spec ---- */

static int get_stage(parse_ctx *c, yaml_node_t *n, int index, stage_spec *st)
{
    char what[48];
    snprintf(what, sizeof what, "stage %d", index);
    field f[] = {{"dim"}, {"depth"}, {"kernel"}, {"grid"}};
    if (get_fields(c, n, what, f, 4) || require(c, n, &f[0], what) ||
        require(c, n, &f[1], what) || require(c, n, &f[2], what) ||
        get_int(c, f[0].value, "dim", 1, MAX_DIM, &st->dim) ||
        get_int(c, f[1].value, "depth", 0, MAX_DEPTH, &st->depth) ||
        get_int(c, f[2].value, "kernel", 1, MAX_KERNEL, &st->kernel))
        return -1;
    if (st->kernel % 2 == 0)
        return err_at(c, f[2].value, "kernel must be odd, got %d", st->kernel);
    if (f[3].value)
        return get_grid(c, f[3].value, st->kernel, &st->rows, &st->cols);
    pelk_diag inner;
    if (grid_from_rule(&st->rows, st->kernel, 5, 2, &inner))
        return err_at(c, n, "%s", inner.msg);
    grid_copy(&st->cols, &st->rows);
    return 0;
}

static int get_kpe(parse_ctx *c, yaml_node_t *n, kpe_mode *m)
{
    const char *s = NULL;
    if (get_string(c, n, "kpe", &s))
        return -1;
    if (!strcmp(s, "constant"))
        *m = KPE_CONSTANT;
    else if (!strcmp(s, "border"))
        *m = KPE_BORDER;
    else if (!strcmp(s, "none"))
        *m = KPE_NONE;
    else
        return err_at(c, n, "kpe must be one of constant, border, none; got '%s'", s);
    return 0;
}

/* floor(x * n) for the decimal number x written as text, exactly: 0.29 * 100
 * gives 29, though the double nearest 0.29 times 100 floors to 28. */
static int decimal_floor_mul(const char *text, int n)
{
    unsigned __int128 mant = 0;
    int exp10 = 0, digits = 0;
    const char *p = text;
    if (*p == '+')
        p++;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (digits < 30) {
            mant = mant * 10 + (unsigned)(*p - '0');
            digits += mant != 0;
        } else {
            exp10++;
        }
    }
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (digits < 30) {
                mant = mant * 10 + (unsigned)(*p - '0');
                digits += mant != 0;
                exp10--;
            }
    if (*p == 'e' || *p == 'E') {
        char *end;
        long e = strtol(p + 1, &end, 10);
        exp10 += e > 100 ? 100 : e < -100 ? -100 : (int)e;
        p = end;
    }
    if (*p || exp10 > 4) /* not a plain decimal, or huge: the double is as good */
        return (int)floor(strtod(text, NULL) * n);
    unsigned __int128 v = mant * (unsigned)n;
    for (; exp10 > 0; exp10--)
        v *= 10;
    for (; exp10 < 0; exp10++)
        v /= 10; /* repeated floor division is floor of the whole division */
    return v > (1u << 30) ? 1 << 30 : (int)v;
}

/* Feature-map sizes through the network; an error where a map would vanish. */
static int derive_sizes(parse_ctx *c, model_spec *s, yaml_node_t *stem_node,
                        yaml_node_t *stages_node, yaml_node_t *mlp_node)
{
    if (s->height < s->stem_kernel || s->width < s->stem_kernel)
        return err_at(c, stem_node,
                      "the stem's %dx%d kernel does not fit the %dx%d input: the map shrinks "
                      "below 1 pixel",
                      s->stem_kernel, s->stem_kernel, s->height, s->width);
    int h = (s->height - s->stem_kernel) / s->stem_stride + 1;
    int w = (s->width - s->stem_kernel) / s->stem_stride + 1;
    for (int i = 0; i < s->n_stages; i++) {
        stage_spec *st = &s->stages[i];
        if (i > 0) {
            if (h / 2 < 1 || w / 2 < 1) {
                yaml_node_t *item =
                    yaml_document_get_node(c->doc, stages_node->data.sequence.items.start[i]);
                return err_at(c, item,
                              "stage %d's downsample shrinks the %dx%d map below 1 pixel "
                              "(%dx%d)",
                              i, h, w, h / 2, w / 2);
            }
            h /= 2;
            w /= 2;
        }
        st->map_h = h;
        st->map_w = w;
        st->conv_channels = decimal_floor_mul(s->partial_text, st->dim);
        st->hidden = decimal_floor_mul(s->mlp_ratio_text, st->dim);
        if (st->conv_channels > st->dim)
            st->conv_channels = st->dim;
        if (st->hidden < 1) /* only an explicit mlp_ratio below 1 can do this */
            return err_at(c, mlp_node,
                          "mlp_ratio %s leaves stage %d (dim %d) no hidden channels: "
                          "floor(mlp_ratio * dim) must be at least 1",
                          s->mlp_ratio_text, i, st->dim);
    }
    return 0;
}

static int get_spec(parse_ctx *c, yaml_node_t *root, model_spec *s)
{
    field f[] = {{"name"}, {"input"}, {"stem"}, {"stages"}, {"block"}, {"head"}};
    if (get_fields(c, root, "the spec", f, 6) || require(c, root, &f[0], "the spec") ||
        require(c, root, &f[1], "the spec") || require(c, root, &f[3], "the spec"))
        return -1;

    const char *name = NULL;
    if (get_string(c, f[0].value, "name", &name))
        return -1;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
            return err_at(c, f[0].value, "name may hold only letters, digits, '_', '-', '.'");
    if (!*name || strlen(name) > 64)
        return err_at(c, f[0].value, "name must be 1 to 64 characters");
    s->name = xstrdup(name);

    field in[] = {{"channels"}, {"height"}, {"width"}};
    if (get_fields(c, f[1].value, "input", in, 3))
        return -1;
    for (int i = 0; i < 3; i++)
        if (require(c, f[1].value, &in[i], "input"))
            return -1;
    if (get_int(c, in[0].value, "input channels", 1, MAX_DIM, &s->channels) ||
        get_int(c, in[1].value, "input height", 1, MAX_MAP, &s->height) ||
        get_int(c, in[2].value, "input width", 1, MAX_MAP, &s->width))
        return -1;

    s->stem_kernel = s->stem_stride = 4;
    if (f[2].value) {
        field st[] = {{"kernel"}, {"stride"}};
        if (get_fields(c, f[2].value, "stem", st, 2) ||
            (st[0].value && get_int(c, st[0].value, "stem kernel", 1, MAX_MAP, &s->stem_kernel)) ||
            (st[1].value && get_int(c, st[1].value, "stem stride", 1, MAX_MAP, &s->stem_stride)))
            return -1;
    }

    s->partial = 0.375;
    s->mlp_ratio = 4;
    snprintf(s->partial_text, sizeof s->partial_text, "0.375");
    snprintf(s->mlp_ratio_text, sizeof s->mlp_ratio_text, "4");
    s->kpe = KPE_CONSTANT;
    yaml_node_t *mlp_node = NULL;
    if (f[4].value) {
        field b[] = {{"partial"}, {"mlp_ratio"}, {"kpe"}};
        if (get_fields(c, f[4].value, "block", b, 3))
            return -1;
        if (b[0].value) {
            if (get_number(c, b[0].value, "partial", &s->partial))
                return -1;
            if (!(s->partial > 0 && s->partial <= 1))
                return err_at(c, b[0].value, "partial must be in (0, 1], got %s",
                              scalar(b[0].value));
            snprintf(s->partial_text, sizeof s->partial_text, "%s", scalar(b[0].value));
        }
        if (b[1].value) {
            mlp_node = b[1].value;
            if (get_number(c, b[1].value, "mlp_ratio", &s->mlp_ratio))
                return -1;
            if (!(s->mlp_ratio > 0 && s->mlp_ratio <= 64))
                return err_at(c, b[1].value, "mlp_ratio must be in (0, 64], got %s",
                              scalar(b[1].value));
            snprintf(s->mlp_ratio_text, sizeof s->mlp_ratio_text, "%s", scalar(b[1].value));
        }
        if (b[2].value && get_kpe(c, b[2].value, &s->kpe))
            return -1;
    }

    s->classes = 1000;
    if (f[5].value) {
        field h[] = {{"classes"}};
        if (get_fields(c, f[5].value, "head", h, 1) ||
            (h[0].value && get_int(c, h[0].value, "classes", 1, 1 << 20, &s->classes)))
            return -1;
    }

    yaml_node_t *stages = f[3].value;
    if (stages->type != YAML_SEQUENCE_NODE)
        return err_at(c, stages, "stages must be a list, got %s", node_kind(stages));
    int n = (int)(stages->data.sequence.items.top - stages->data.sequence.items.start);
    if (n < 1)
        return err_at(c, stages, "stages must hold at least one stage");
    if (n > 16)
        return err_at(c, stages, "at most 16 stages are supported, got %d", n);
    s->stages = xcalloc((size_t)n, sizeof *s->stages);
    for (int i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, stages->data.sequence.items.start[i]);
        int rc = get_stage(c, item, i, &s->stages[i]);
        s->n_stages = i + 1; /* so spec_free releases what was filled */
        if (rc)
            return -1;
        if (s->stages[i].dim > MAX_DIM / 64 && s->mlp_ratio * s->stages[i].dim > MAX_DIM)
            return err_at(c, item, "hidden width mlp_ratio*dim exceeds %d", MAX_DIM);
    }
    return derive_sizes(c, s, f[2].value ? f[2].value : root, stages, mlp_node);
}

static int syntax_error(parse_ctx *c, const yaml_parser_t *parser, const char *text, size_t len)
{
    const char *problem = parser->problem ? parser->problem : "unknown problem";
    if (parser->error == YAML_READER_ERROR) {
        /* the reader (bad bytes, bad UTF-8) gives a byte offset, not a mark */
        int line = 1, col = 1;
        for (size_t i = 0; i < parser->problem_offset && i < len; i++, col++)
            if (text[i] == '\n')
                line++, col = 0;
        if (parser->problem_value >= 0)
            return diag_at(c->d, c->file, line, col, "YAML syntax error: %s (value 0x%02X)",
                           problem, (unsigned)parser->problem_value);
        return diag_at(c->d, c->file, line, col, "YAML syntax error: %s", problem);
    }
    int line = (int)parser->problem_mark.line + 1, col = (int)parser->problem_mark.column + 1;
    return diag_at(c->d, c->file, line, col, "YAML syntax error: %s%s%s", problem,
                   parser->context ? " " : "", parser->context ? parser->context : "");
}

/* A first pass over the events: syntax errors, and nesting deeper than
 * MAX_NESTING, found before libyaml's loader spends quadratic time on them. */
static int check_nesting(parse_ctx *c, const char *text, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return diag_set(c->d, "%s: cannot initialise the YAML parser", c->file);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int depth = 0, rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(c, &parser, text, len);
            break;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > MAX_NESTING)
                rc = diag_at(c->d, c->file, (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1,
                             "lists and mappings nest more than %d deep here", MAX_NESTING);
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (rc || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Load the one YAML document of text into doc; a second document is an error. */
static int load_document(parse_ctx *c, yaml_parser_t *parser, yaml_document_t *doc,
                         const char *text, size_t len)
{
    if (check_nesting(c, text, len))
        return -1;
    yaml_parser_set_input_string(parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(parser, doc))
        return syntax_error(c, parser, text, len);
    if (!yaml_document_get_root_node(doc))
        return 0; /* empty input: the stream has ended */
    yaml_document_t next;
    int rc = 0;
    if (!yaml_parser_load(parser, &next)) {
        rc = syntax_error(c, parser, text, len);
    } else {
        if (yaml_document_get_root_node(&next))
            rc = diag_at(c->d, c->file, (int)next.start_mark.line + 1,
                         (int)next.start_mark.column + 1,
                         "a second YAML document starts here; a spec is one document");
        yaml_document_delete(&next);
    }
    if (rc)
        yaml_document_delete(doc);
    return rc;
}

int spec_parse(model_spec *s, const char *text, size_t len, const char *filename, pelk_diag *d)
{
    memset(s, 0, sizeof *s);
    if (len > MAX_SPEC_BYTES)
        return diag_set(d, "%s: the file is over %d bytes, too large for a spec", filename,
                        MAX_SPEC_BYTES);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return diag_set(d, "%s: cannot initialise the YAML parser", filename);
    parse_ctx c = {&doc, filename, d};
    int rc = load_document(&c, &parser, &doc, text, len);
    if (rc == 0) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root)
            rc = diag_at(d, filename, 1, 1, "the spec is empty");
        else
            rc = get_spec(&c, root, s);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc)
        spec_free(s);
    return rc;
}

int spec_load(model_spec *s, const char *path, pelk_diag *d)
{
    memset(s, 0, sizeof *s);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return diag_set(d, "%s: is a directory, not a spec file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return diag_set(d, "%s: cannot open: %s", path, strerror(errno));
    /* read at most one byte past the limit: /dev/zero or a FIFO ends too */
    char *text = xcalloc(MAX_SPEC_BYTES + 2, 1);
    size_t len = fread(text, 1, MAX_SPEC_BYTES + 1, f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    int rc;
    if (err)
        rc = diag_set(d, "%s: cannot read the spec: %s", path, strerror(err));
    else if (len > MAX_SPEC_BYTES)
        rc = diag_set(d, "%s: the file is over %d bytes, too large for a spec", path,
                      MAX_SPEC_BYTES);
    else
        rc = spec_parse(s, text, len, path, d);
    free(text);
    return rc;
}

void spec_free(model_spec *s)
{
    for (int i = 0; i < s->n_stages; i++) {
        grid_free(&s->stages[i].rows);
        grid_free(&s->stages[i].cols);
    }
    free(s->stages);
    free(s->name);
    memset(s, 0, sizeof *s);
}

int grid_parse_text(const char *text, int kernel, sharing_grid *rows, sharing_grid *cols,
                    pelk_diag *d)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return diag_set(d, "cannot initialise the YAML parser");
    parse_ctx c = {&doc, "--grid", d};
    int rc = load_document(&c, &parser, &doc, text, strlen(text));
    if (rc == 0) {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        rc = root ? get_grid(&c, root, kernel, rows, cols)
                  : diag_at(d, "--grid", 1, 1, "the grid is empty");
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

const char *kpe_mode_name(kpe_mode m)
{
    return m == KPE_CONSTANT ? "constant" : m == KPE_BORDER ? "border" : "none";
}
