#ifndef TEMPSCALE_CGEMM_H
#define TEMPSCALE_CGEMM_H
#include <stddef.h>
#include <stdint.h>

/* y[m, n] = x[m, k] · W[n, k]ᵀ + bias[n] at storage precision on oneDNN (PyTorch's nn.Linear layout).
 *   bf16: W as bf16, x rounded to bf16 per call, f32 accumulation and output.
 *   int8: W as s8 with one scale per output row (symmetric), x quantised per row at run time to u8 with its own
 *         scale and zero point (asymmetric, zero exact), s32 accumulation (VNNI), dequantised to f32 with the
 *         zero-point correction zp[m]·Σₖ W[n, k].
 * One matmul primitive per weight (M is a run-time dimension), weights converted once at creation; the f32
 * input is only read. Calls from several threads at once are safe: each thread has its own stream and scratch. */

typedef enum { TS_GEMM_BF16 = 1, TS_GEMM_INT8 = 2 } ts_gemm_kind;
typedef struct ts_gemm ts_gemm;

/* 1 if this CPU runs `kind` natively (avx512_bf16 for bf16, VNNI for int8) and oneDNN has a kernel for it. */
int ts_gemm_supported(ts_gemm_kind kind);
/* The instruction set oneDNN dispatches to, for messages ("avx512_core_bf16", …). */
const char *ts_gemm_isa(void);

/* NULL on failure with a reason in err. w is [n, k] row-major f32 (only read). */
ts_gemm *ts_gemm_create(ts_gemm_kind kind, const float *w, int n, int k, char *err, size_t errlen);
/* Returns 0 on success, or a oneDNN status code. */
int ts_gemm_run(const ts_gemm *g, const float *x, int m, const float *bias, float *out);
size_t ts_gemm_bytes(const ts_gemm *g);
void ts_gemm_free(ts_gemm *g);

/* The f32 ↔ kernel-precision round trips the paths use, for tests: bf16 round-to-nearest-even. */
float ts_bf16_round(float x);
#endif
