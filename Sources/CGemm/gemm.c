/* Linear layers at storage precision on oneDNN (see cgemm.h). The f32 path stays on OpenBLAS (Kernels.linear):
 * measured here, oneDNN's f32 matmul with a run-time M was no faster than sgemm except at M ≤ 32. */
#include "cgemm.h"
#include <oneapi/dnnl/dnnl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

void omp_set_num_threads(int);

struct ts_gemm {
    ts_gemm_kind kind;
    int n, k;
    dnnl_primitive_t prim;
    void *w;           /* [n, k] bf16 or s8 */
    float *wscale;     /* int8: per output row */
    int32_t *colsum;   /* int8: Σₖ q[n, k] */
    int block;         /* int8: Hadamard block along k (1: no rotation) */
    float *signs;      /* int8: the random ±1 of the rotation, [k] */
    size_t bytes;
};

/* ---- one engine; a stream and scratch per thread ---- */

static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static void make_engine(void) { engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0); }

typedef struct {
    dnnl_stream_t stream;
    void *buf;
    size_t cap;
} thread_state;

static pthread_key_t state_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static void free_state(void *p) {
    thread_state *s = p;
    if (s->stream) dnnl_stream_destroy(s->stream);
    free(s->buf);
    free(s);
}
static void make_key(void) { pthread_key_create(&state_key, free_state); }

static thread_state *state(void) {
    pthread_once(&key_once, make_key);
    thread_state *s = pthread_getspecific(state_key);
    if (s) return s;
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    /* The encoder's workers each run whole batches: oneDNN (OpenMP) stays on the calling thread, as BLAS does. */
    omp_set_num_threads(1);
    if (dnnl_stream_create(&s->stream, engine, dnnl_stream_default_flags) != dnnl_success) { free(s); return NULL; }
    pthread_setspecific(state_key, s);
    return s;
}

static void *scratch(thread_state *s, size_t bytes) {
    if (bytes > s->cap) {
        free(s->buf);
        s->cap = bytes + bytes / 4;
        if (posix_memalign(&s->buf, 64, s->cap) != 0) { s->buf = NULL; s->cap = 0; }
    }
    return s->buf;
}

/* ---- support ---- */

int ts_gemm_supported(ts_gemm_kind kind) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    int cpu = 0;
    if (kind == TS_GEMM_BF16) cpu = __builtin_cpu_supports("avx512bf16");
    if (kind == TS_GEMM_INT8) cpu = __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni");
    if (!cpu) return 0;
    pthread_once(&engine_once, make_engine);
    if (engine_status != dnnl_success) return 0;
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (kind == TS_GEMM_BF16) return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    return (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni ||
           (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
#else
    (void)kind;
    return 0;
#endif
}

const char *ts_gemm_isa(void) {
    pthread_once(&engine_once, make_engine);
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx) return "avx512_core_amx";
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16) return "avx512_core_bf16";
    if ((isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni) return "avx512_core_vnni";
    if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core) return "avx512_core";
    if ((isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni) return "avx2_vnni";
    if ((isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2) return "avx2";
    return "sse41 or older";
}

/* ---- element kernels (vectorised by the compiler; AVX-512 clone where the CPU has it) ---- */

static inline uint16_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                          /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float ts_bf16_round(float x) {
    uint32_t u = (uint32_t)bf16_bits(x) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void to_bf16(const float *x, uint16_t *out, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = bf16_bits(x[i]);
}

/* The int8 path multiplies in a rotated basis: x·Wᵀ = (x·R)·(W·R)ᵀ for R = D·H orthogonal, D random signs and H
 * block-diagonal normalised Hadamard (blocks of b ≤ 64 along k). The rotation spreads the few large channels of
 * BERT activations (and weights) over their block, so a per-row 8-bit scale loses far less. On MiniLM's golden
 * texts it took the worst cosine from 0.9935 to ≈ 0.999 (emulated in PyTorch first, then measured here). */
static void rotate(float *v, int k, int b, const float *signs) {
    for (int i = 0; i < k; i++) v[i] *= signs[i];
    if (b < 2) return;
    for (int base = 0; base < k; base += b) {
        float *x = v + base;
        for (int h = 1; h < b; h <<= 1)
            for (int i = 0; i < b; i += h << 1)
                for (int j = i; j < i + h; j++) {
                    float a = x[j], c = x[j + h];
                    x[j] = a + c;
                    x[j + h] = a - c;
                }
    }
    float norm = 1 / sqrtf((float)b);
    for (int i = 0; i < k; i++) v[i] *= norm;
}

/* The u8 scale and zero point of a row with values in [lo, hi] (lo ≤ 0 ≤ hi): 0 maps to an integer exactly. */
static inline void row_params(float lo, float hi, float *scale, float *inv, float *zp) {
    float s = (hi - lo) / 255.0f;
    if (!(s > 0) || !isfinite(s)) s = 1;
    float i = 1 / s, z = nearbyintf(-lo * i);
    *scale = s;
    *inv = i;
    *zp = z < 0 ? 0 : z > 255 ? 255 : z;
}

/* Row r of x (rotated) → u8 with scale s[r] and zero point z[r]: x·R ≈ s·(q − z), with 0 exact. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void quantize_rows(const float *x, int m, int k, int b, const float *signs, float *tmp, uint8_t *q, float *s,
                          int32_t *z) {
    for (int r = 0; r < m; r++) {
        float *row = tmp;
        memcpy(row, x + (size_t)r * k, sizeof(float) * k);
        rotate(row, k, b, signs);
        float lo = 0, hi = 0;
        for (int i = 0; i < k; i++) { lo = fminf(lo, row[i]); hi = fmaxf(hi, row[i]); }
        float scale, inv, zp;
        row_params(lo, hi, &scale, &inv, &zp);
        uint8_t *qr = q + (size_t)r * k;
        for (int i = 0; i < k; i++) {
            float v = rintf(row[i] * inv) + zp;
            v = fminf(fmaxf(v, 0), 255);
            qr[i] = (uint8_t)v;
        }
        s[r] = scale;
        z[r] = (int32_t)zp;
    }
}

#if defined(__x86_64__)
/* The same for the common case (blocks of 64, AVX-512): a block is four registers; butterflies of span 1–8 are
 * lane permutes within a register, 16 and 32 are between registers. Rounding is the CPU's (to nearest even). */
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
static inline __m512 butterfly(__m512 x, __m512 swapped, __mmask16 odd) {
    return _mm512_mask_blend_ps(odd, _mm512_add_ps(x, swapped), _mm512_sub_ps(swapped, x));
}

__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
static void quantize_rows_avx512(const float *x, int m, int k, const float *signs, float *tmp, uint8_t *q, float *s,
                                 int32_t *z) {
    const __m512 norm = _mm512_set1_ps(0.125f); /* 1/√64 */
    for (int r = 0; r < m; r++) {
        const float *row = x + (size_t)r * k;
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        for (int base = 0; base < k; base += 64) {
            __m512 v[4];
            for (int j = 0; j < 4; j++) {
                __m512 a = _mm512_mul_ps(_mm512_loadu_ps(row + base + 16 * j), _mm512_loadu_ps(signs + base + 16 * j));
                a = butterfly(a, _mm512_permute_ps(a, 0xB1), 0xAAAA);
                a = butterfly(a, _mm512_permute_ps(a, 0x4E), 0xCCCC);
                a = butterfly(a, _mm512_shuffle_f32x4(a, a, 0xB1), 0xF0F0);
                a = butterfly(a, _mm512_shuffle_f32x4(a, a, 0x4E), 0xFF00);
                v[j] = a;
            }
            __m512 a0 = _mm512_add_ps(v[0], v[1]), a1 = _mm512_sub_ps(v[0], v[1]);
            __m512 a2 = _mm512_add_ps(v[2], v[3]), a3 = _mm512_sub_ps(v[2], v[3]);
            v[0] = _mm512_mul_ps(_mm512_add_ps(a0, a2), norm);
            v[1] = _mm512_mul_ps(_mm512_add_ps(a1, a3), norm);
            v[2] = _mm512_mul_ps(_mm512_sub_ps(a0, a2), norm);
            v[3] = _mm512_mul_ps(_mm512_sub_ps(a1, a3), norm);
            for (int j = 0; j < 4; j++) {
                _mm512_storeu_ps(tmp + base + 16 * j, v[j]);
                lo = _mm512_min_ps(lo, v[j]);
                hi = _mm512_max_ps(hi, v[j]);
            }
        }
        float scale, inv, zp;
        row_params(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), &scale, &inv, &zp);
        const __m512 vinv = _mm512_set1_ps(inv);
        const __m512i vzp = _mm512_set1_epi32((int)zp), zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
        uint8_t *qr = q + (size_t)r * k;
        for (int i = 0; i < k; i += 16) {
            __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(tmp + i), vinv)), vzp);
            v = _mm512_min_epi32(_mm512_max_epi32(v, zero), top);
            _mm_storeu_si128((__m128i *)(qr + i), _mm512_cvtepi32_epi8(v));
        }
        s[r] = scale;
        z[r] = (int32_t)zp;
    }
}
#endif

__attribute__((target_clones("avx512f", "avx2", "default")))
static void dequantize(const int32_t *acc, int m, int n, const float *s, const int32_t *z, const float *ws,
                       const int32_t *colsum, const float *bias, float *out) {
    for (int r = 0; r < m; r++) {
        const int32_t *a = acc + (size_t)r * n;
        float *o = out + (size_t)r * n;
        float sr = s[r];
        int32_t zr = z[r];
        if (bias) {
            for (int j = 0; j < n; j++) o[j] = (float)(a[j] - zr * colsum[j]) * (sr * ws[j]) + bias[j];
        } else {
            for (int j = 0; j < n; j++) o[j] = (float)(a[j] - zr * colsum[j]) * (sr * ws[j]);
        }
    }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void add_bias(float *out, int m, int n, const float *bias) {
    for (int r = 0; r < m; r++) {
        float *o = out + (size_t)r * n;
        for (int j = 0; j < n; j++) o[j] += bias[j];
    }
}

/* The s8 scale of one (rotated) weight row: the least squared error among clipping ratios 0.6 … 1 of its max. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static float weight_scale(const float *row, int k) {
    float amax = 0;
    for (int i = 0; i < k; i++) amax = fmaxf(amax, fabsf(row[i]));
    if (!(amax > 0) || !isfinite(amax)) return 1;
    float scale = amax / 127.0f, best = INFINITY;
    for (int c = 0; c <= 16; c++) {
        float sc = amax * (0.6f + 0.025f * c) / 127.0f, inv = 1 / sc, err = 0;
        for (int i = 0; i < k; i++) {
            float v = fminf(fmaxf(rintf(row[i] * inv), -127), 127) * sc - row[i];
            err += v * v;
        }
        if (err < best) { best = err; scale = sc; }
    }
    return scale;
}

/* ---- create / run ---- */

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); ts_gemm_free(g); return NULL; } while (0)

ts_gemm *ts_gemm_create(ts_gemm_kind kind, const float *w, int n, int k, char *err, size_t errlen) {
    pthread_once(&engine_once, make_engine);
    ts_gemm *g = calloc(1, sizeof *g);
    if (!g) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (engine_status != dnnl_success) FAIL("oneDNN has no CPU engine (status %d)", (int)engine_status);
    g->kind = kind;
    g->n = n;
    g->k = k;
    dnnl_data_type_t src_t, wei_t, dst_t;
    size_t wbytes;
    if (kind == TS_GEMM_BF16) {
        src_t = dnnl_bf16; wei_t = dnnl_bf16; dst_t = dnnl_f32;
        wbytes = (size_t)n * k * 2;
    } else {
        src_t = dnnl_u8; wei_t = dnnl_s8; dst_t = dnnl_s32;
        wbytes = (size_t)n * k;
    }
    if (posix_memalign(&g->w, 64, wbytes) != 0) { g->w = NULL; FAIL("out of memory for %zu weight bytes", wbytes); }
    g->bytes = wbytes;
    if (kind == TS_GEMM_BF16) {
        to_bf16(w, g->w, (size_t)n * k);
    } else {
        g->wscale = malloc(sizeof(float) * n);
        g->colsum = malloc(sizeof(int32_t) * n);
        g->signs = malloc(sizeof(float) * k);
        float *row = malloc(sizeof(float) * k);
        if (!g->wscale || !g->colsum || !g->signs || !row) { free(row); FAIL("out of memory"); }
        g->bytes += (sizeof(float) + sizeof(int32_t)) * n + sizeof(float) * k;
        g->block = 64;
        while (g->block > 1 && k % g->block) g->block >>= 1;
        uint64_t state = 0x9e3779b97f4a7c15ull; /* fixed: the rotation is part of the packed weights, not a choice */
        for (int i = 0; i < k; i++) {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            g->signs[i] = (state >> 32) & 1 ? 1.0f : -1.0f;
        }
        int8_t *q = g->w;
        for (int j = 0; j < n; j++) {
            memcpy(row, w + (size_t)j * k, sizeof(float) * k);
            rotate(row, k, g->block, g->signs);
            float scale = weight_scale(row, k);
            float inv = 1 / scale;
            int32_t sum = 0;
            for (int i = 0; i < k; i++) {
                float v = fminf(fmaxf(nearbyintf(row[i] * inv), -127), 127);
                q[(size_t)j * k + i] = (int8_t)v;
                sum += (int32_t)v;
            }
            g->wscale[j] = scale;
            g->colsum[j] = sum;
        }
        free(row);
    }
    /* src [M, k] and dst [M, n] with M known only at run time; weights [k, n] stored as our [n, k] rows (tag ba). */
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t sd = {DNNL_RUNTIME_DIM_VAL, k}, wd = {k, n}, dd = {DNNL_RUNTIME_DIM_VAL, n};
    dnnl_status_t st;
    if ((st = dnnl_memory_desc_init_by_tag(&src, 2, sd, src_t, dnnl_ab)) != dnnl_success ||
        (st = dnnl_memory_desc_init_by_tag(&wei, 2, wd, wei_t, dnnl_ba)) != dnnl_success ||
        (st = dnnl_memory_desc_init_by_tag(&dst, 2, dd, dst_t, dnnl_ab)) != dnnl_success)
        FAIL("oneDNN memory descriptor (status %d)", (int)st);
    dnnl_matmul_desc_t md;
    if ((st = dnnl_matmul_desc_init(&md, &src, &wei, NULL, &dst)) != dnnl_success) FAIL("oneDNN matmul (status %d)", (int)st);
    dnnl_primitive_desc_t pd;
    if ((st = dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL)) != dnnl_success)
        FAIL("oneDNN has no %s matmul for [M, %d]·[%d, %d] here (status %d)", kind == TS_GEMM_BF16 ? "bf16" : "int8", k, k, n,
             (int)st);
    st = dnnl_primitive_create(&g->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) { g->prim = NULL; FAIL("oneDNN primitive (status %d)", (int)st); }
    return g;
}

static dnnl_status_t execute(const ts_gemm *g, thread_state *s, void *x, int m, dnnl_data_type_t src_t, void *y,
                             dnnl_data_type_t dst_t) {
    dnnl_memory_desc_t src, wei, dst;
    dnnl_memory_t ms = NULL, mw = NULL, md = NULL;
    dnnl_status_t st;
    dnnl_dims_t sd = {m, g->k}, wd = {g->k, g->n}, dd = {m, g->n};
    dnnl_memory_desc_init_by_tag(&src, 2, sd, src_t, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&wei, 2, wd, g->kind == TS_GEMM_BF16 ? dnnl_bf16 : dnnl_s8, dnnl_ba);
    dnnl_memory_desc_init_by_tag(&dst, 2, dd, dst_t, dnnl_ab);
    if ((st = dnnl_memory_create(&ms, &src, engine, x)) != dnnl_success) goto done;
    if ((st = dnnl_memory_create(&mw, &wei, engine, g->w)) != dnnl_success) goto done;
    if ((st = dnnl_memory_create(&md, &dst, engine, y)) != dnnl_success) goto done;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}};
    if ((st = dnnl_primitive_execute(g->prim, s->stream, 3, args)) != dnnl_success) goto done;
    st = dnnl_stream_wait(s->stream);
done:
    if (ms) dnnl_memory_destroy(ms);
    if (mw) dnnl_memory_destroy(mw);
    if (md) dnnl_memory_destroy(md);
    return st;
}

static int run_rows(const ts_gemm *g, const float *x, int m, const float *bias, float *out);

/* Rows go through in slices, so the per-thread scratch (bf16 or u8 rows, s32 accumulators) stays small. */
#define SLICE_ROWS 512
int ts_gemm_run(const ts_gemm *g, const float *x, int m, const float *bias, float *out) {
    for (int start = 0; start < m; start += SLICE_ROWS) {
        int rows = m - start < SLICE_ROWS ? m - start : SLICE_ROWS;
        int st = run_rows(g, x + (size_t)start * g->k, rows, bias, out + (size_t)start * g->n);
        if (st != 0) return st;
    }
    return 0;
}

static int run_rows(const ts_gemm *g, const float *x, int m, const float *bias, float *out) {
    if (m <= 0) return 0;
    thread_state *s = state();
    if (!s) return (int)dnnl_out_of_memory;
    size_t mk = (size_t)m * g->k, mn = (size_t)m * g->n;
    if (g->kind == TS_GEMM_BF16) {
        uint16_t *xb = scratch(s, mk * 2);
        if (!xb) return (int)dnnl_out_of_memory;
        to_bf16(x, xb, mk);
        dnnl_status_t st = execute(g, s, xb, m, dnnl_bf16, out, dnnl_f32);
        if (st != dnnl_success) return (int)st;
        if (bias) add_bias(out, m, g->n, bias);
        return 0;
    }
    /* int8 scratch: s32 accumulators, u8 rows, a rotated row, row scales and zero points. */
    size_t acc_bytes = mn * 4, q_bytes = (mk + 63) & ~(size_t)63, row_bytes = ((size_t)g->k * 4 + 63) & ~(size_t)63;
    char *base = scratch(s, acc_bytes + q_bytes + row_bytes + (size_t)m * 8);
    if (!base) return (int)dnnl_out_of_memory;
    int32_t *acc = (int32_t *)base;
    uint8_t *q = (uint8_t *)(base + acc_bytes);
    float *tmp = (float *)(base + acc_bytes + q_bytes);
    float *rs = (float *)(base + acc_bytes + q_bytes + row_bytes);
    int32_t *rz = (int32_t *)(rs + m);
#if defined(__x86_64__)
    if (g->block == 64 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        quantize_rows_avx512(x, m, g->k, g->signs, tmp, q, rs, rz);
    else
#endif
        quantize_rows(x, m, g->k, g->block, g->signs, tmp, q, rs, rz);
    dnnl_status_t st = execute(g, s, q, m, dnnl_u8, acc, dnnl_s32);
    if (st != dnnl_success) return (int)st;
    dequantize(acc, m, g->n, rs, rz, g->wscale, g->colsum, bias, out);
    return 0;
}

size_t ts_gemm_bytes(const ts_gemm *g) { return g ? g->bytes : 0; }

void ts_gemm_free(ts_gemm *g) {
    if (!g) return;
    if (g->prim) dnnl_primitive_destroy(g->prim);
    free(g->w);
    free(g->wscale);
    free(g->colsum);
    free(g->signs);
    free(g);
}
