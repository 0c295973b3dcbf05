/* Diagnostics: every fallible function fills a pelk_diag and returns -1.
 * The message is one readable line; the caller decides where it goes. */
#ifndef PELK_DIAG_H
#define PELK_DIAG_H

#include <stddef.h>

typedef struct pelk_diag {
    char msg[1024];
} pelk_diag;

/* printf into d->msg; always returns -1 so callers can `return diag_set(...)`. */
int diag_set(pelk_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Same, prefixed with "file:line:col: " (line and col are 1-based). */
int diag_at(pelk_diag *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Allocation that reports failure instead of returning NULL silently. */
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);

/* Read a whole file into memory (NUL-terminated); NULL with d set on failure. */
char *read_file(const char *path, size_t *len, pelk_diag *d);

#endif
