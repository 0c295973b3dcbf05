/* The LLVM backend's entry in the backend interface: LLVM IR printed, built
 * into a .so, or compiled in process by the ORC JIT. */
#include <stdio.h>

#include "../backend.h"

static void *jit_open(const ir_graph *g, const build_options *o, char *built_by, size_t cap,
                      pelk_diag *d)
{
    snprintf(built_by, cap, "LLVM 19 ORC JIT in process (default<O3>, %s; LLVM backend)",
             o->march ? "host CPU" : "generic x86-64");
    return llvm_jit_open(g, o, d);
}

/* The JIT'd model exports its functions without the --prefix (rt_jit.c). */
static void *jit_symbol(void *j, const char *name) { return llvm_jit_symbol(j, name); }

static void jit_close(void *j) { llvm_jit_close(j); }

const pelkc_backend backend_llvm = {
    .name = "llvm",
    .what = "the LLVM backend",
    .emit = llvm_emit,
    .build_so = llvm_build_so,
    .open = jit_open,
    .symbol = jit_symbol,
    .close = jit_close,
};
