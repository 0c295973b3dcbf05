/* pk_gemm (runtime/pelkc_gemm.h) on PeLK-T's eight pointwise-layer shapes,
 * against other GEMMs, each compiled in only when its -D flag is given:
 *   -DHAVE_OPENBLAS    OpenBLAS's cblas_sgemm
 *   -DHAVE_BLIS        BLIS's bli_sgemm (its native API; the BLIS CBLAS would
 *                      clash with OpenBLAS's cblas_sgemm in the same binary)
 *   -DHAVE_DNNL_SGEMM  oneDNN's dnnl_sgemm
 *   -DHAVE_DNNL_MATMUL oneDNN's matmul primitive, weights reordered once
 * These libraries are for this benchmark only; pelkc itself needs none.
 *
 * Build (from the repo root):
 *   gcc -O3 -march=native -fopenmp -std=gnu11 -Iruntime bench/gemm_bench.c -o build/gemm_bench -lm
 * with the OpenBLAS comparison (Debian: apt-get install -y libopenblas-dev):
 *   gcc -O3 -march=native -fopenmp -std=gnu11 -Iruntime -DHAVE_OPENBLAS \
 *       -I/usr/include/x86_64-linux-gnu/openblas-pthread bench/gemm_bench.c \
 *       -o build/gemm_bench -lopenblas -lm
 * with every candidate (Debian: apt-get install -y libopenblas-dev libblis-dev
 * libdnnl-dev; BLIS 0.9 built for OpenMP, oneDNN 2.6 on OpenMP):
 *   gcc -O3 -march=native -fopenmp -std=gnu11 -Iruntime -DHAVE_OPENBLAS \
 *       -I/usr/include/x86_64-linux-gnu/openblas-pthread -DHAVE_BLIS \
 *       -DHAVE_DNNL_SGEMM -DHAVE_DNNL_MATMUL bench/gemm_bench.c \
 *       -o build/gemm_bench_all -lopenblas -lblis -ldnnl -lm
 * OpenBLAS 0.3.21 runs its Haswell (AVX2) kernels on Zen 5 unless started
 * with OPENBLAS_CORETYPE=SkylakeX in the environment (its AVX-512 kernels).
 * Run: build/gemm_bench [--peak GFLOPS] [--min-time SECONDS] [--batch N] [--stat median|min]
 *                        [--cold] [--dnnl-act nhwc|nchw]
 *   --peak: one core's peak (bench/peak_fma.c; default 227), for the % columns
 *   --min-time: timed runs per cell last at least this long (default 0.3 s)
 *   --batch: images for the pk_gemm_batch columns (default 8; 0 skips them)
 *   --stat min: report the fastest run instead of the median (on a busy
 *     machine the median of the 2-thread runs mostly measures time slices)
 *   --cold: evict the caches before each timed run (then read X back), so
 *     the weights come from memory as in a whole network; without it the
 *     same layer runs again and again and its weights stay in L2/L3
 *   --dnnl-act: the activations' layout given to the matmul primitive
 *     (default nhwc; see below)
 *
 * Each cell: 3 warm-up runs, then the median of at least 15 runs (and at
 * least --min-time). GFLOP/s counts 2 O I P flops per product. pelkc's time
 * includes its bias (epilogue 0; the "+GELU" column is fc1's fused
 * bias + GELU); OpenBLAS's, BLIS's and dnnl_sgemm's are the product alone
 * (alpha 1, beta 0, no bias). The libraries are never interleaved: each cell
 * runs one library, and before a cell that changes library the program
 * sleeps 0.2 s so the previous library's workers stop spinning. "batch ms"
 * is pk_gemm_batch over --batch images, per image (it groups the images'
 * pixels for the P = 49 and 196 shapes and runs image by image for the
 * others).
 *
 * Thread counts, set explicitly for every cell: pelkc takes its count as an
 * argument (an OpenMP num_threads clause); OpenBLAS (its own pthreads):
 * openblas_set_num_threads; BLIS (Debian's build runs on OpenMP, the same
 * libgomp as pelkc): bli_thread_set_num_threads; oneDNN (OpenMP):
 * omp_set_num_threads before creating the matmul primitive (oneDNN fixes
 * its work split when the primitive is created) and before every call.
 *
 * The matmul primitive computes dst[P x O] = src[P x I] wei[I x O] + bias,
 * i.e. the layer with W as oneDNN's weights; it is created once per shape
 * and thread count with the weights' format "any", and W is reordered into
 * that format once, outside the timed loop. Bias is in the primitive (a
 * PeLK pointwise layer always has one), and for the fc1 shapes a second
 * primitive adds the exact GELU (eltwise_gelu_erf post-op) for the totals.
 * --dnnl-act nhwc (default): src and dst are channels-last ([P][I], [P][O]
 * row-major, copies of X and for the check read back transposed), the
 * layout a network built on oneDNN would keep; --dnnl-act nchw: src and dst
 * are pelkc's X[I][P] and Y[O][P] given as transposed (strided) matrices.
 * The implementation oneDNN chose is printed per shape; oneDNN 2.6 runs
 * channels-last on brg:avx512_core and NCHW only on its reference loop
 * (ref:any, seconds per call), which is checked but not timed.
 *
 * Check: per shape and thread count, one run of every method is compared
 * with a double-precision reference (W X, plus the bias where the method
 * adds it): max |y - ref| / max |ref| is printed; above 1e-4 the method is
 * reported as failed and gets no time (nan) and no total.
 *
 * Totals: one PeLK-T image's MLPs, i.e. per stage depth x (fc1 + GELU, fc2)
 * with depths 3/3/9/3, at 2 threads: pelkc single images, pelkc per image of
 * a --batch batch, OpenBLAS, BLIS and dnnl_sgemm (product only), and the
 * oneDNN matmul (bias, and GELU on fc1, in the primitive). */
#include "pelkc_gemm.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#ifdef HAVE_OPENBLAS
#include <cblas.h>
#undef I /* <complex.h>, via openblas_config.h */
#endif
#ifdef HAVE_BLIS
#define BLIS_DISABLE_CBLAS /* OpenBLAS's cblas.h may be in the same file */
#define BLIS_DISABLE_BLAS
#include <blis.h>
#endif
#if defined(HAVE_DNNL_SGEMM) || defined(HAVE_DNNL_MATMUL)
#include <oneapi/dnnl/dnnl.h>
#endif

typedef struct {
    int O, I, P, depth, fc1;
} shape;

static const shape shapes[8] = {
    {496, 124, 3136, 3, 1}, {124, 496, 3136, 3, 0}, {996, 249, 784, 3, 1}, {249, 996, 784, 3, 0},
    {1996, 499, 196, 9, 1}, {499, 1996, 196, 9, 0}, {3992, 998, 49, 3, 1}, {998, 3992, 49, 3, 0},
};

/* the methods; LIB_PELKC is pk_gemm / pk_gemm_batch */
enum { LIB_PELKC, LIB_OPENBLAS, LIB_BLIS, LIB_DNNL_SGEMM, LIB_DNNL_MATMUL, NLIB };
static const char *const lib_name[NLIB] = {"pelkc", "OpenBLAS", "BLIS", "dnnl_sgemm",
                                           "dnnl matmul"};
static const int lib_built[NLIB] = {
    1,
#ifdef HAVE_OPENBLAS
    1,
#else
    0,
#endif
#ifdef HAVE_BLIS
    1,
#else
    0,
#endif
#ifdef HAVE_DNNL_SGEMM
    1,
#else
    0,
#endif
#ifdef HAVE_DNNL_MATMUL
    1,
#else
    0,
#endif
};

#ifdef HAVE_DNNL_MATMUL
/* one matmul primitive with its memories: src/dst wrap the job's buffers,
 * the weights are oneDNN's own (reordered once), bias wraps the bias */
typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst;
    const char *impl;
} mm_prim;
static dnnl_engine_t dnnl_eng;
static dnnl_stream_t dnnl_strm;
static int mm_act_nchw; /* --dnnl-act nchw */
#endif

typedef struct {
    const shape *s;
    const float *packed, *W, *bias;
    const float **X;
    float **Y;
    int nimg, threads, epilogue, lib;
    void *mm; /* LIB_DNNL_MATMUL: the mm_prim */
} job;

static double min_time = 0.3;
static int use_min; /* --stat min: the fastest run instead of the median */
/* --cold: before each run, evict the caches (read 128 MiB), then read X
 * back: the weights come from memory, as in a whole network, where one
 * image's pass goes through ~175 MB of them */
static float *flush_buf;
enum { FLUSH_FLOATS = 32 << 20 };
static volatile float flush_sink;

static void make_cold(const job *j)
{
    if (!flush_buf)
        return;
    float s = 0;
    for (size_t i = 0; i < FLUSH_FLOATS; i += 16)
        s += flush_buf[i];
    size_t nx = (size_t)j->s->I * j->s->P;
    for (int n = 0; n < j->nimg; n++)
        for (size_t i = 0; i < nx; i += 16)
            s += j->X[n][i];
    flush_sink = s;
}

static void run(const job *j)
{
    const shape *s = j->s;
    switch (j->lib) {
#ifdef HAVE_OPENBLAS
    case LIB_OPENBLAS:
        for (int n = 0; n < j->nimg; n++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->O, s->P, s->I, 1.0f, j->W,
                        s->I, j->X[n], s->P, 0.0f, j->Y[n], s->P);
        return;
#endif
#ifdef HAVE_BLIS
    case LIB_BLIS: {
        float one = 1.0f, zero = 0.0f;
        for (int n = 0; n < j->nimg; n++) /* row-major: row stride = leading dim, column stride 1 */
            bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, s->O, s->P, s->I, &one, (float *)j->W,
                      s->I, 1, (float *)j->X[n], s->P, 1, &zero, j->Y[n], s->P, 1);
        return;
    }
#endif
#ifdef HAVE_DNNL_SGEMM
    case LIB_DNNL_SGEMM:
        for (int n = 0; n < j->nimg; n++)
            dnnl_sgemm('N', 'N', s->O, s->P, s->I, 1.0f, j->W, s->I, j->X[n], s->P, 0.0f, j->Y[n],
                       s->P);
        return;
#endif
#ifdef HAVE_DNNL_MATMUL
    case LIB_DNNL_MATMUL: {
        const mm_prim *m = j->mm;
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, m->src},
                                   {DNNL_ARG_WEIGHTS, m->wei},
                                   {DNNL_ARG_BIAS, m->bias},
                                   {DNNL_ARG_DST, m->dst}};
        dnnl_primitive_execute(m->prim, dnnl_strm, 4, args);
        dnnl_stream_wait(dnnl_strm);
        return;
    }
#endif
    default:
        break;
    }
    if (j->nimg == 1)
        pk_gemm(j->packed, j->bias, j->X[0], j->Y[0], s->O, s->I, s->P, j->epilogue, j->threads);
    else
        pk_gemm_batch(j->packed, j->bias, (const float *const *)j->X, (float *const *)j->Y, j->nimg,
                      s->O, s->I, s->P, j->epilogue, j->threads);
}

/* each library's own thread count, set before every cell */
static void set_threads(int lib, int threads)
{
    switch (lib) {
#ifdef HAVE_OPENBLAS
    case LIB_OPENBLAS:
        openblas_set_num_threads(threads);
        break;
#endif
#ifdef HAVE_BLIS
    case LIB_BLIS:
        bli_thread_set_num_threads(threads);
        break;
#endif
    case LIB_DNNL_SGEMM:
    case LIB_DNNL_MATMUL:
        omp_set_num_threads(threads);
        break;
    default:
        break;
    }
}

/* median seconds per image */
static double time_job(const job *j)
{
    enum { MAXR = 2000 };
    static double t[MAXR];
    static int last_lib = -1;
    if (last_lib >= 0 && last_lib != j->lib) {
        /* let the previous library's workers stop spinning */
        struct timespec pause = {0, 200000000};
        nanosleep(&pause, NULL);
    }
    last_lib = j->lib;
    set_threads(j->lib, j->threads);
    for (int r = 0; r < 3; r++)
        run(j);
    int n = 0;
    double start = now(), excluded = 0;
    while (n < MAXR && (n < 15 || now() - start - excluded < min_time)) {
        double tc = now();
        make_cold(j);
        excluded += now() - tc;
        double t0 = now();
        run(j);
        t[n++] = now() - t0;
    }
    qsort(t, n, sizeof t[0], cmp);
    return (use_min ? t[0] : t[n / 2]) / j->nimg;
}

/* max |y - ref| / max |ref| of one run of j (image 0); ref = W X in double
 * (refd, [O][P]) plus the bias when the method adds it, GELU'd when the
 * method applies it; trans: the output is [P][O] */
static double check_job(const job *j, const double *refd, int with_bias, int trans)
{
    const shape *s = j->s;
    size_t ny = (size_t)s->O * s->P;
    set_threads(j->lib, j->threads);
    for (size_t i = 0; i < ny; i++)
        j->Y[0][i] = NAN;
    run(j);
    double maxerr = 0, maxref = 0;
    for (int o = 0; o < s->O; o++)
        for (int p = 0; p < s->P; p++) {
            double r = refd[(size_t)o * s->P + p] + (with_bias ? j->bias[o] : 0.0);
            if (j->epilogue == 1)
                r = 0.5 * r * (1.0 + erf(r / sqrt(2.0)));
            double y = trans ? j->Y[0][(size_t)p * s->O + o] : j->Y[0][(size_t)o * s->P + p];
            double e = fabs(y - r);
            if (!(e <= maxerr)) /* NaN counts as an error */
                maxerr = isnan(e) ? INFINITY : e;
            if (fabs(r) > maxref)
                maxref = fabs(r);
        }
    return maxerr / (maxref > 0 ? maxref : 1);
}

#ifdef HAVE_DNNL_MATMUL
#define DNNL_TRY(call)                                                                             \
    do {                                                                                           \
        dnnl_status_t st_ = (call);                                                                \
        if (st_ != dnnl_success) {                                                                 \
            fprintf(stderr, "oneDNN: %s failed (status %d)\n", #call, (int)st_);                 \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

/* the matmul primitive for shape s with the current omp thread count;
 * X1 [I][P] or [P][I] (nhwc), Y1 likewise, one image; gelu: add the exact
 * GELU post-op. W is reordered into the primitive's weight format here. */
static int mm_create(mm_prim *m, const shape *s, const float *W, const float *bias, float *X1,
                     float *Y1, int gelu)
{
    memset(m, 0, sizeof *m);
    dnnl_dims_t src_dims = {s->P, s->I}, wei_dims = {s->I, s->O}, bias_dims = {1, s->O},
                dst_dims = {s->P, s->O};
    dnnl_memory_desc_t src_md, wei_any, wei_user, bias_md, dst_md;
    dnnl_format_tag_t act = mm_act_nchw ? dnnl_ba : dnnl_ab;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, dnnl_f32, act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, dnnl_f32, act));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei_any, 2, wei_dims, dnnl_f32, dnnl_format_tag_any));
    /* W is [O][I] row-major: as the [I x O] weights, format ba */
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei_user, 2, wei_dims, dnnl_f32, dnnl_ba));
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&bias_md, 2, bias_dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    DNNL_TRY(dnnl_matmul_desc_init(&desc, &src_md, &wei_any, &bias_md, &dst_md));
    dnnl_primitive_attr_t attr;
    DNNL_TRY(dnnl_primitive_attr_create(&attr));
    if (gelu) {
        dnnl_post_ops_t po;
        DNNL_TRY(dnnl_post_ops_create(&po));
        DNNL_TRY(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f));
        DNNL_TRY(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd;
    DNNL_TRY(dnnl_primitive_desc_create(&pd, &desc, attr, dnnl_eng, NULL));
    dnnl_primitive_attr_destroy(attr);
    DNNL_TRY(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &m->impl));
    const dnnl_memory_desc_t *wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    DNNL_TRY(dnnl_primitive_create(&m->prim, pd));
    DNNL_TRY(dnnl_memory_create(&m->src, &src_md, dnnl_eng, X1));
    DNNL_TRY(dnnl_memory_create(&m->dst, &dst_md, dnnl_eng, Y1));
    DNNL_TRY(dnnl_memory_create(&m->bias, &bias_md, dnnl_eng, (void *)bias));
    DNNL_TRY(dnnl_memory_create(&m->wei, wei_md, dnnl_eng, DNNL_MEMORY_ALLOCATE));
    /* the one-time weight reorder (at load, in a deployed network) */
    dnnl_memory_t wu;
    DNNL_TRY(dnnl_memory_create(&wu, &wei_user, dnnl_eng, (void *)W));
    dnnl_primitive_desc_t rpd;
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, &wei_user, dnnl_eng, wei_md, dnnl_eng, NULL));
    dnnl_primitive_t reorder;
    DNNL_TRY(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, wu}, {DNNL_ARG_TO, m->wei}};
    DNNL_TRY(dnnl_primitive_execute(reorder, dnnl_strm, 2, rargs));
    DNNL_TRY(dnnl_stream_wait(dnnl_strm));
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(wu);
    /* the impl string belongs to pd, which the primitive copied: keep a copy */
    static char impls[64][64];
    static int nimpl;
    int k;
    for (k = 0; k < nimpl && strcmp(impls[k], m->impl); k++)
        ;
    if (k == nimpl && nimpl < 64)
        snprintf(impls[nimpl++], sizeof impls[0], "%s", m->impl);
    m->impl = k < 64 ? impls[k] : "?";
    dnnl_primitive_desc_destroy(pd);
    return 0;
}

static void mm_destroy(mm_prim *m)
{
    if (m->prim)
        dnnl_primitive_destroy(m->prim);
    if (m->src)
        dnnl_memory_destroy(m->src);
    if (m->wei)
        dnnl_memory_destroy(m->wei);
    if (m->bias)
        dnnl_memory_destroy(m->bias);
    if (m->dst)
        dnnl_memory_destroy(m->dst);
    memset(m, 0, sizeof *m);
}

#endif

#if defined(HAVE_DNNL_SGEMM) || defined(HAVE_DNNL_MATMUL)
static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_avx2:
        return "avx2";
    case dnnl_cpu_isa_avx512_core:
        return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni:
        return "avx2_vnni";
    default:
        return "other";
    }
}
#endif

static float frand(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* one table cell: ms, GFLOP/s, % of peak */
static void cell(double t, double flops, double peak, int threads)
{
    printf(" | %9.3f %7.1f %5.1f", t * 1e3, flops / t / 1e9, 100 * flops / t / 1e9 / peak / threads);
}

static void total_line(const char *what, double t, double flops, double peak, const char *note)
{
    if (isnan(t))
        printf("  %-24s (failed its check)\n", what);
    else
        printf("  %-24s %8.2f ms  %6.1f GFLOP/s  %5.1f%% of 2-core peak%s\n", what, t * 1e3,
               flops / t / 1e9, 100 * flops / t / 1e9 / (2 * peak), note);
}

int main(int argc, char **argv)
{
    double peak = 227.0;
    int batch = 8;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--peak") && a + 1 < argc)
            peak = atof(argv[++a]);
        else if (!strcmp(argv[a], "--min-time") && a + 1 < argc)
            min_time = atof(argv[++a]);
        else if (!strcmp(argv[a], "--batch") && a + 1 < argc)
            batch = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--stat") && a + 1 < argc)
            use_min = !strcmp(argv[++a], "min");
        else if (!strcmp(argv[a], "--dnnl-act") && a + 1 < argc) {
            const char *v = argv[++a];
#ifdef HAVE_DNNL_MATMUL
            mm_act_nchw = !strcmp(v, "nchw");
#else
            (void)v;
#endif
        } else if (!strcmp(argv[a], "--cold")) {
            flush_buf = malloc((size_t)FLUSH_FLOATS * sizeof(float));
            for (size_t i = 0; i < FLUSH_FLOATS; i++)
                flush_buf[i] = (float)(i & 7);
        } else {
            fprintf(stderr,
                    "usage: %s [--peak GFLOPS] [--min-time S] [--batch N] [--stat median|min] "
                    "[--cold] [--dnnl-act nhwc|nchw]\n",
                    argv[0]);
            return 2;
        }
    }
    int nimg = batch > 1 ? batch : 1;
    double load = load_average();
    printf("pk_gemm: PK_VEC %d, MR %d x NV %d, KC %d; peak %.0f GFLOP/s per core; %s of runs; "
           "%s; load average %.2f\n",
           PK_VEC, PK_GEMM_MR, PK_GEMM_NV, PK_GEMM_KC, peak, use_min ? "fastest" : "median",
           flush_buf ? "weights cold (from memory)" : "weights warm (in cache)", load);
#ifdef HAVE_OPENBLAS
    printf("OpenBLAS: %s\n", openblas_get_config());
#else
    printf("OpenBLAS: not built in (-DHAVE_OPENBLAS)\n");
#endif
#ifdef HAVE_BLIS
    {
        arch_t id = bli_arch_query_id();
        printf("BLIS: %s, sub-configuration %s, threading %s\n", bli_info_get_version_str(),
               bli_arch_string(id),
               bli_info_get_enable_openmp()     ? "openmp"
               : bli_info_get_enable_pthreads() ? "pthreads"
                                                : "none");
        if (id == BLIS_ARCH_GENERIC)
            printf("BLIS: WARNING: the generic sub-configuration (reference kernels, no "
                   "AVX2/AVX-512 kernel) was selected for this CPU\n");
    }
#endif
#if defined(HAVE_DNNL_SGEMM) || defined(HAVE_DNNL_MATMUL)
    {
        const dnnl_version_t *v = dnnl_version();
        printf("oneDNN: %d.%d.%d (%s), CPU runtime %s, ISA %s\n", v->major, v->minor, v->patch,
               v->hash, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "not OpenMP",
               isa_name(dnnl_get_effective_cpu_isa()));
    }
#endif
#ifdef HAVE_DNNL_MATMUL
    if (dnnl_engine_create(&dnnl_eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&dnnl_strm, dnnl_eng, dnnl_stream_default_flags) != dnnl_success) {
        fprintf(stderr, "oneDNN: cannot create the CPU engine\n");
        return 1;
    }
    printf("oneDNN matmul: activations %s, bias in the primitive\n",
           mm_act_nchw ? "NCHW (src/dst strided)" : "channels-last (src [P][I], dst [P][O])");
#endif
    /* 2-thread totals per method; tot_batch: pelkc per image of a batch */
    double tot[NLIB] = {0}, tot_batch = 0, tot_flops = 0;
    printf("\n%-16s %3s | %9s %7s %5s | %9s | %9s %7s %5s | %9s %7s %5s", "O x I x P", "thr",
           "pelkc ms", "GF/s", "%pk", "+GELU ms", "batch ms", "GF/s", "%pk", "blas ms", "GF/s",
           "%pk");
    if (lib_built[LIB_BLIS])
        printf(" | %9s %7s %5s", "blis ms", "GF/s", "%pk");
    if (lib_built[LIB_DNNL_SGEMM])
        printf(" | %9s %7s %5s", "sgemm ms", "GF/s", "%pk");
    if (lib_built[LIB_DNNL_MATMUL])
        printf(" | %9s %7s %5s | %9s", "matmul ms", "GF/s", "%pk", "mm+GELU");
    printf("\n");
    for (int si = 0; si < 8; si++) {
        const shape *s = &shapes[si];
        unsigned seed = 12345u + si;
        size_t nw = (size_t)s->O * s->I, nx = (size_t)s->I * s->P, ny = (size_t)s->O * s->P;
        float *W = malloc(nw * sizeof(float)), *bias = malloc(s->O * sizeof(float));
        float *packed = malloc(pk_gemm_packed_size(s->O, s->I) * sizeof(float));
        const float **X = malloc(nimg * sizeof *X);
        float **Y = malloc(nimg * sizeof *Y);
        for (size_t i = 0; i < nw; i++)
            W[i] = frand(&seed) * 0.1f;
        for (int o = 0; o < s->O; o++)
            bias[o] = frand(&seed);
        for (int n = 0; n < nimg; n++) {
            float *x = malloc(nx * sizeof(float));
            for (size_t i = 0; i < nx; i++)
                x[i] = frand(&seed);
            X[n] = x;
            Y[n] = malloc(ny * sizeof(float));
        }
        pk_gemm_pack_weights(W, s->O, s->I, packed);
        double flops = 2.0 * s->O * s->I * s->P;
        /* the double reference W X (no bias) of image 0 */
        double *refd = calloc(ny, sizeof(double));
        for (int o = 0; o < s->O; o++)
            for (int i = 0; i < s->I; i++) {
                double w = W[(size_t)o * s->I + i];
                const float *xr = X[0] + (size_t)i * s->P;
                double *rr = refd + (size_t)o * s->P;
                for (int p = 0; p < s->P; p++)
                    rr[p] += w * xr[p];
            }
        /* the matmul's activations: channels-last copies of X[0] and room for Y */
        float *Xt = malloc(nx * sizeof(float)), *Yt = malloc(ny * sizeof(float));
        for (int i = 0; i < s->I; i++)
            for (int p = 0; p < s->P; p++)
                Xt[(size_t)p * s->I + i] = X[0][(size_t)i * s->P + p];
        double err[NLIB], err_gelu[2] = {0, 0}; /* pelkc +GELU, matmul +GELU */
        for (int l = 0; l < NLIB; l++)
            err[l] = 0;
        const char *mm_impl = NULL;
        double tt[2][NLIB + 3]; /* per thread count: times; [NLIB] +GELU, [NLIB+1] mm+GELU,
                                   [NLIB+2] batch */
        for (int threads = 1; threads <= 2; threads++) {
            double *t = tt[threads - 1];
            for (int l = 0; l < NLIB + 3; l++)
                t[l] = NAN;
            job j = {s, packed, W, bias, X, Y, 1, threads, 0, LIB_PELKC, NULL};
            /* check every method once at this thread count, then time those that pass */
            int ok[NLIB];
            for (int l = 0; l < NLIB; l++) {
                ok[l] = 0;
                if (!lib_built[l] || l == LIB_DNNL_MATMUL)
                    continue;
                j.lib = l;
                double e = check_job(&j, refd, l == LIB_PELKC, 0);
                err[l] = fmax(err[l], e);
                ok[l] = e <= 1e-4;
            }
            j.lib = LIB_PELKC;
            if (s->fc1) {
                j.epilogue = 1;
                err_gelu[0] = fmax(err_gelu[0], check_job(&j, refd, 1, 0));
                j.epilogue = 0;
            }
            if (ok[LIB_PELKC]) {
                t[LIB_PELKC] = time_job(&j);
                if (s->fc1 && err_gelu[0] <= 1e-4) {
                    j.epilogue = 1;
                    t[NLIB] = time_job(&j);
                    j.epilogue = 0;
                }
                if (batch > 1) {
                    j.nimg = nimg;
                    t[NLIB + 2] = time_job(&j);
                    if (threads == 2 && s->fc1) {
                        j.epilogue = 1;
                        tot_batch += s->depth * time_job(&j);
                    } else if (threads == 2) {
                        tot_batch += s->depth * t[NLIB + 2];
                    }
                    j.nimg = 1;
                    j.epilogue = 0;
                }
            } else {
                tot_batch = NAN;
            }
            for (int l = LIB_OPENBLAS; l < LIB_DNNL_MATMUL; l++)
                if (ok[l]) {
                    j.lib = l;
                    t[l] = time_job(&j);
                }
            j.lib = LIB_PELKC;
#ifdef HAVE_DNNL_MATMUL
            {
                /* created with this thread count; X/Y as the primitive sees them */
                float *mx = mm_act_nchw ? (float *)X[0] : Xt, *my = mm_act_nchw ? Y[0] : Yt;
                job jm = {s, packed, W, bias, (const float **)&mx, &my, 1, threads, 0,
                          LIB_DNNL_MATMUL, NULL};
                for (int g = 0; g <= s->fc1; g++) {
                    mm_prim m;
                    omp_set_num_threads(threads);
                    if (mm_create(&m, s, W, bias, mx, my, g) != 0) {
                        mm_destroy(&m);
                        err[LIB_DNNL_MATMUL] = INFINITY;
                        continue;
                    }
                    if (!g)
                        mm_impl = m.impl;
                    else if (strcmp(mm_impl, m.impl))
                        printf("  (matmul +GELU: %s)\n", m.impl);
                    jm.mm = &m;
                    jm.epilogue = g;
                    double e = check_job(&jm, refd, 1, !mm_act_nchw);
                    if (g)
                        err_gelu[1] = fmax(err_gelu[1], e);
                    else
                        err[LIB_DNNL_MATMUL] = fmax(err[LIB_DNNL_MATMUL], e);
                    jm.epilogue = 0; /* the primitive itself applies the GELU */
                    /* a reference implementation ("ref:any", what oneDNN 2.6 picks for
                     * strided NCHW src/dst) takes seconds per call: not timed */
                    if (e <= 1e-4 && strncmp(m.impl, "ref", 3))
                        t[g ? NLIB + 1 : LIB_DNNL_MATMUL] = time_job(&jm);
                    mm_destroy(&m);
                }
            }
#endif
            if (threads == 2) {
                for (int l = 0; l < NLIB; l++) {
                    double tl = t[l];
                    if (l == LIB_PELKC && s->fc1)
                        tl = t[NLIB];
                    if (l == LIB_DNNL_MATMUL && s->fc1)
                        tl = t[NLIB + 1];
                    tot[l] += s->depth * tl;
                }
                tot_flops += s->depth * flops;
            }
            char name[32];
            snprintf(name, sizeof name, "%dx%dx%d", s->O, s->I, s->P);
            printf("%-16s %3d", name, threads);
            cell(t[LIB_PELKC], flops, peak, threads);
            printf(" | %9.3f", t[NLIB] * 1e3);
            cell(t[NLIB + 2], flops, peak, threads);
            cell(t[LIB_OPENBLAS], flops, peak, threads);
            if (lib_built[LIB_BLIS])
                cell(t[LIB_BLIS], flops, peak, threads);
            if (lib_built[LIB_DNNL_SGEMM])
                cell(t[LIB_DNNL_SGEMM], flops, peak, threads);
            if (lib_built[LIB_DNNL_MATMUL]) {
                cell(t[LIB_DNNL_MATMUL], flops, peak, threads);
                printf(" | %9.3f", t[NLIB + 1] * 1e3);
            }
            printf("\n");
            fflush(stdout);
        }
        /* the check, worst of the two thread counts */
        printf("  check (max |err| / max |ref|):");
        for (int l = 0; l < NLIB; l++)
            if (lib_built[l])
                printf(" %s %.1e%s", lib_name[l], err[l], err[l] <= 1e-4 ? "" : " FAILED");
        if (s->fc1) {
            printf("; +GELU: pelkc %.1e", err_gelu[0]);
            if (lib_built[LIB_DNNL_MATMUL])
                printf(", matmul %.1e", err_gelu[1]);
        }
        printf("\n");
        if (mm_impl)
            printf("  dnnl matmul implementation: %s%s\n", mm_impl,
                   strncmp(mm_impl, "ref", 3) ? "" : " (a reference loop: not timed)");
        free(refd);
        free(Xt);
        free(Yt);
        for (int n = 0; n < nimg; n++) {
            free((void *)X[n]);
            free(Y[n]);
        }
        free(X);
        free(Y);
        free(W);
        free(bias);
        free(packed);
    }
    printf("\nPeLK-T MLPs per image (depths 3/3/9/3, fc1 with GELU), 2 threads, %.2f GFLOP:\n",
           tot_flops / 1e9);
    total_line("pelkc pk_gemm", tot[LIB_PELKC], tot_flops, peak, "");
    if (batch > 1) {
        char what[64];
        snprintf(what, sizeof what, "pelkc pk_gemm_batch(%2d)", nimg);
        total_line(what, tot_batch, tot_flops, peak, " (per image)");
    }
    if (lib_built[LIB_OPENBLAS])
        total_line("OpenBLAS sgemm (no bias)", tot[LIB_OPENBLAS], tot_flops, peak, "");
    if (lib_built[LIB_BLIS])
        total_line("BLIS bli_sgemm (no bias)", tot[LIB_BLIS], tot_flops, peak, "");
    if (lib_built[LIB_DNNL_SGEMM])
        total_line("dnnl_sgemm (no bias)", tot[LIB_DNNL_SGEMM], tot_flops, peak, "");
    if (lib_built[LIB_DNNL_MATMUL])
        total_line("dnnl matmul (bias, GELU)", tot[LIB_DNNL_MATMUL], tot_flops, peak, "");
    return 0;
}
