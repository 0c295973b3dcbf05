/* Backends turn a lowered graph into something that runs. The interface is
 * small on purpose (ggml-style): emit source for inspection, or build a
 * standalone shared library that implements runtime/pelkc_model.h. */
#ifndef PELK_BACKEND_H
#define PELK_BACKEND_H

#include <stdint.h>
#include <stdio.h>

#include "../ir/ir.h"

typedef struct build_options {
    const char *cc;       /* C compiler command for the C backend ("cc" if NULL) */
    const char *cflags;   /* extra flags, appended */
    const char *march;    /* -march= value; NULL for the compiler's default target */
    int vec;              /* floats per vector in specialised kernels (8 or 16) */
    const char *prefix;   /* NULL, or a C identifier prefixed to every exported symbol */
    int keep_temps;       /* leave the build directory in place and say where */
    int verbose;          /* echo the compiler command */
    int host_kernels;     /* emit only the orchestration, calling the kernels precompiled into
                             pelkc (runtime/pelkc_host.h): the code libtcc compiles in process */
    int sm;               /* GPU architecture of the PTX: 80 or 90 */
} build_options;

/* How a constant is stored in the blob. */
typedef enum weight_format {
    WEIGHT_PLAIN,      /* as in the IR, row-major */
    WEIGHT_GEMM_PACKED /* a pointwise weight [O,I] in pk_gemm's panel layout (pelkc_gemm.h) */
} weight_format;

/* Weights blob: every constant at a 64-byte aligned byte offset. */
typedef struct weight_layout {
    int64_t *offset;       /* per constant, bytes */
    weight_format *format; /* per constant */
    int64_t total;         /* bytes */
} weight_layout;

/* A conv2d with kernel = stride: a matrix product over its patches. */
int op_is_patchify(const ir_graph *g, const ir_op *op);
/* pack: matrix-product weights in pk_gemm's panel layout (the CPU backends);
 * else every constant plain (the GPU's kernels read them as the IR states them). */
void layout_weights(const ir_graph *g, int pack, weight_layout *w);
/* Write the blob; every constant must have data. */
int write_weights(const ir_graph *g, const weight_layout *w, const char *path, pelk_diag *d);
/* The same into memory: blob holds w->total bytes, 64-byte aligned. */
int fill_weights(const ir_graph *g, const weight_layout *w, unsigned char *blob, pelk_diag *d);
void weight_layout_free(weight_layout *w);

/* Shared by the .so builds (backends/build_tools.c): a private directory
 * under $TMPDIR, a file written whole, and a tool run with its stderr in
 * errpath; role names the tool in messages ("the C compiler"). */
int make_build_dir(char *dir, size_t cap, pelk_diag *d);
int write_file(const char *path, const void *data, size_t n, pelk_diag *d);
int run_tool(char *const argv[], const char *errpath, int verbose, const char *role,
             pelk_diag *d);
/* Run the link tool (or the compiler) with argv[out], its output argument, set to
 * so_path.partial; rename that to so_path once it succeeded, remove it if not. */
int publish_so(char *argv[], int out, const char *so_path, const char *errpath, int verbose,
               const char *role, pelk_diag *d);
/* The C compiler arguments a model's C is built with: -DPELKC_BUILT_BY, -DPELKC_PREFIX
 * (o->prefix), -I dir (the runtime files) and -I Halide's header; their text lives in t. */
typedef struct cc_args {
    char built_by[64], prefix[200], inc_dir[4200], inc_halide[600];
} cc_args;
void cc_model_args(char *argv[], int *a, const build_options *o, const char *dir, cc_args *t);
/* An assembly file at path defining hidden symbol `name` as the bytes of file blob
 * (NUL-terminated if text). */
int write_incbin(const char *path, const char *name, const char *blob, int text, pelk_diag *d);
/* the embedded runtime sources into dir (what the .so builds compile) */
int write_runtime_files(const char *dir, pelk_diag *d);
/* keep: print where dir is; else remove names[0..n) and the runtime files in it, then dir */
void finish_build_dir(const char *dir, const char *const names[], size_t n, int keep);

/* The C backend (backends/c). */
int c_emit(const ir_graph *g, const build_options *o, FILE *out, pelk_diag *d);
/* Vector width for a -march value: 16 where the target has AVX-512, else 8. */
int target_vec(const char *march);
int c_build_so(const ir_graph *g, const build_options *o, const char *so_path, pelk_diag *d);

/* In-process compilation with libtcc (backends/c/tcc_build.c): the model's
 * orchestration code and the runtime, compiled into memory; the kernels are
 * pelkc's own (pelkc_host.h). No file is written. */
typedef struct tcc_model tcc_model;
typedef struct tcc_timing {
    double emit, weights, compile, relocate; /* seconds */
    int64_t c_bytes;                         /* generated C (model and runtime) */
} tcc_timing;
int tcc_build(const ir_graph *g, const build_options *o, tcc_model **out, tcc_timing *t,
              pelk_diag *d);
/* A symbol of the compiled model (the C API of runtime/pelkc_model.h); NULL if absent. */
void *tcc_model_symbol(void *model, const char *name);
void tcc_model_free(tcc_model *m);
/* Floats per vector of the precompiled lowered-conv kernel (its scratch layout). */
int host_kernels_vec(void);

/* The LLVM backend (backends/llvm; in pelkc when built with PELKC_LLVM, which
 * defines PELKC_HAVE_LLVM): LLVM IR built from the graph with LLVM's C API, no
 * C text in between. The generic kernels are a library compiled when pelkc
 * was built (runtime/pelkc_kernels_lib.c); the per-model code and the
 * specialised box_gather functions are LLVM IR. march: "native" (the host
 * CPU) or NULL (generic x86-64). */
int llvm_emit(const ir_graph *g, const build_options *o, FILE *out, pelk_diag *d);
/* Object code for the host, linked (o->cc as the linker driver, "cc" if NULL)
 * with the runtime library and the weights into a standalone .so. */
int llvm_build_so(const ir_graph *g, const build_options *o, const char *so_path, pelk_diag *d);
/* Compile in process with ORC LLJIT; no file is written. One JIT'd model at a
 * time: its API functions (runtime/pelkc_model.h names, e.g. "pelkc_run_f32")
 * come from llvm_jit_symbol until llvm_jit_close. */
typedef struct llvm_jit llvm_jit;
llvm_jit *llvm_jit_open(const ir_graph *g, const build_options *o, pelk_diag *d);
void *llvm_jit_symbol(const llvm_jit *j, const char *name);
void llvm_jit_close(llvm_jit *j);


/* ---- The backend interface: one entry per way of building a model ----
 * Option parsing resolves one entry (backend_find) and every command calls
 * through it. A compiled-in-process model is a handle whose C API functions
 * (runtime/pelkc_model.h names, without any --prefix) come from symbol(). */
typedef struct pelkc_backend {
    const char *name;    /* as --backend, --target and --cc tcc name it: c, tcc, llvm, cuda, ... */
    const char *what;    /* for messages: "the C backend" */
    const char *missing; /* NULL, or why this pelkc lacks it and how to build it in */
    int keep_norms;      /* its kernels take a LayerNorm as its own op (pass_options) */
    /* the code it generates, as text (C, LLVM IR, PTX); NULL: none */
    int (*emit)(const ir_graph *g, const build_options *o, FILE *out, pelk_diag *d);
    /* a standalone .so implementing runtime/pelkc_model.h; NULL: it writes none */
    int (*build_so)(const ir_graph *g, const build_options *o, const char *so_path, pelk_diag *d);
    /* compile and load in process (or through a temporary .so); built_by says how */
    void *(*open)(const ir_graph *g, const build_options *o, char *built_by, size_t cap,
                  pelk_diag *d);
    void *(*symbol)(void *model, const char *name);
    void (*close)(void *model);
} pelkc_backend;

/* The entries (registry.c): c, tcc, llvm, cuda, cuda-emulate; NULL for another name. */
const pelkc_backend *backend_find(const char *name);
/* The calls, each failing with b->missing when b is not built into this pelkc. */
int backend_emit(const pelkc_backend *b, const ir_graph *g, const build_options *o, FILE *out,
                 pelk_diag *d);
int backend_build_so(const pelkc_backend *b, const ir_graph *g, const build_options *o,
                     const char *so_path, pelk_diag *d);
void *backend_open(const pelkc_backend *b, const ir_graph *g, const build_options *o,
                   char *built_by, size_t cap, pelk_diag *d);

/* A model as a .so loaded with dlopen (so_model.c): a file (prefix: its --prefix, or NULL),
 * or a temporary one b->build_so writes and removes once loaded (kept with o->keep_temps). */
void *so_model_load(const char *path, const char *prefix, pelk_diag *d);
void *so_model_build(const pelkc_backend *b, const ir_graph *g, const build_options *o,
                     pelk_diag *d);
void *so_model_symbol(void *model, const char *name);
void so_model_close(void *model);

extern const pelkc_backend backend_c, backend_tcc; /* backends/c/c_backend.c */
#ifdef PELKC_HAVE_LLVM
extern const pelkc_backend backend_llvm; /* backends/llvm/llvm_backend.c */
#endif
#ifdef PELKC_HAVE_PTX
extern const pelkc_backend backend_cuda, backend_cuda_emulate; /* the GPU backend */
#endif

#endif
