#ifndef TEMPSCALE_CKERNELS_H
#define TEMPSCALE_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// IEEE half -> float for n values (F16C when the CPU has it, exact scalar code otherwise).
void ts_f16_to_f32(const uint16_t *src, float *dst, size_t n);
/// float -> IEEE half, round to nearest even (F16C when available).
void ts_f32_to_f16(const float *src, uint16_t *dst, size_t n);
/// bfloat16 -> float (exact: a shift).
void ts_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
/// float -> bfloat16, round to nearest even; NaN stays NaN.
void ts_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
/// 1 when the F16C path is used.
int ts_has_f16c(void);

/// SHA-256 compression of `blocks` 64-byte blocks into `state` (SHA-NI when available).
void ts_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);
/// The portable path, exposed so tests can check the two against each other.
void ts_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t blocks);
/// 1 when the CPU has the SHA extensions.
int ts_has_sha_ni(void);

/// In place: exact (erf) GELU, 0.5·x·(1 + erf(x/√2)).
void ts_gelu(float *x, size_t n);
/// In place: softmax of x·inv_tau over n values.
void ts_softmax_row(float *row, size_t n, float inv_tau);
/// 1 when the CPU has the AVX-512 subsets of OpenBLAS's SkylakeX kernels (F, BW, DQ, VL).
int ts_has_avx512_skx(void);
/// 1 when the CPU and OS support AVX2 and FMA (the OpenBLAS Haswell kernels).
int ts_has_avx2_fma(void);

/// σ_a: the largest singular value of A − (1/n)·11ᵀ for the n×n row-major matrix A, computed in double
/// precision (LAPACK dsyevr on the Gram matrix). −1 if LAPACK fails.
double ts_centered_top_singular_value(const float *a, int n);

#endif
