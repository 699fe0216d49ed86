/* Element-wise encoder kernels: AVX2+FMA with glibc's vector math (libmvec erff/expf, a few ulp)
   when the CPU has it, plain C with libm otherwise. */
#include "ckernels.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) __m256 _ZGVdN8v_erff(__m256);
__attribute__((target("avx2,fma"))) __m256 _ZGVdN8v_expf(__m256);
#endif

static int use_avx2 = -1;
static inline int avx2(void) {
    if (use_avx2 < 0) use_avx2 = ts_has_avx2_fma();
    return use_avx2;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static void gelu_avx2(float *x, size_t n) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), r2 = _mm256_set1_ps(0.70710678118654752440f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = _ZGVdN8v_erff(_mm256_mul_ps(v, r2));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752440f));
}

__attribute__((target("avx2,fma")))
static void softmax_avx2(float *row, size_t n, float inv_tau) {
    const __m256 it = _mm256_set1_ps(inv_tau);
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(row + i), it);
        _mm256_storeu_ps(row + i, v);
        vmax = _mm256_max_ps(vmax, v);
    }
    float mx = -INFINITY;
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    for (int k = 0; k < 8; k++) mx = fmaxf(mx, lanes[k]);
    for (; i < n; i++) { row[i] *= inv_tau; mx = fmaxf(mx, row[i]); }
    const __m256 m = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = _ZGVdN8v_expf(_mm256_sub_ps(_mm256_loadu_ps(row + i), m));
        _mm256_storeu_ps(row + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    _mm256_storeu_ps(lanes, vsum);
    float sum = 0;
    for (int k = 0; k < 8; k++) sum += lanes[k];
    for (; i < n; i++) { row[i] = expf(row[i] - mx); sum += row[i]; }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_loadu_ps(row + i), inv));
    for (; i < n; i++) row[i] *= 1.0f / sum;
}
#endif

void ts_gelu(float *x, size_t n) {
#if defined(__x86_64__)
    if (avx2()) { gelu_avx2(x, n); return; }
#endif
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752440f));
}

void ts_softmax_row(float *row, size_t n, float inv_tau) {
#if defined(__x86_64__)
    if (avx2()) { softmax_avx2(row, n, inv_tau); return; }
#endif
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) { row[i] *= inv_tau; mx = fmaxf(mx, row[i]); }
    float sum = 0;
    for (size_t i = 0; i < n; i++) { row[i] = expf(row[i] - mx); sum += row[i]; }
    for (size_t i = 0; i < n; i++) row[i] *= 1.0f / sum;
}
