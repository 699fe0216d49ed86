#include "ckernels.h"
#include <stdlib.h>

// OpenBLAS ships reference LAPACK; Fortran calling convention with the hidden lengths of the
// character arguments (gfortran passes them as size_t after the declared arguments).
extern void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha,
                   const double *a, const int *lda, const double *beta, double *c, const int *ldc,
                   size_t uplo_len, size_t trans_len);
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
                    const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
                    double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t jobz_len, size_t range_len, size_t uplo_len);

double ts_centered_top_singular_value(const float *a, int n) {
    if (n <= 1) return 0;
    size_t nn = (size_t)n * (size_t)n;
    double *m = malloc(nn * sizeof(double)), *g = malloc(nn * sizeof(double));
    int *isuppz = malloc(2 * sizeof(int) * (size_t)n);
    if (!m || !g || !isuppz) { free(m); free(g); free(isuppz); return -1; }
    double inv = 1.0 / n;
    for (size_t i = 0; i < nn; i++) m[i] = (double)a[i] - inv;
    // g = Bᵀ·B for the column-major view B of the row-major matrix: the eigenvalues of g are the
    // squared singular values of A − (1/n)·11ᵀ (those of M and Mᵀ agree).
    const double one = 1, zero = 0;
    dsyrk_("U", "T", &n, &n, &one, m, &n, &zero, g, &n, 1, 1);
    int il = n, iu = n, found = 0, info = 0, lwork = -1, liwork = -1, iwq = 0, ldz = 1;
    double vl = 0, vu = 0, abstol = 0, z[1] = {0}, wq = 0;
    double *w_all = malloc((size_t)n * sizeof(double));
    if (!w_all) { free(m); free(g); free(isuppz); return -1; }
    dsyevr_("N", "I", "U", &n, g, &n, &vl, &vu, &il, &iu, &abstol, &found, w_all, z, &ldz, isuppz, &wq, &lwork,
            &iwq, &liwork, &info, 1, 1, 1);
    double result = -1;
    if (info == 0) {
        lwork = (int)wq; liwork = iwq;
        double *work = malloc((size_t)lwork * sizeof(double));
        int *iwork = malloc((size_t)liwork * sizeof(int));
        if (work && iwork) {
            dsyevr_("N", "I", "U", &n, g, &n, &vl, &vu, &il, &iu, &abstol, &found, w_all, z, &ldz, isuppz, work,
                    &lwork, iwork, &liwork, &info, 1, 1, 1);
            if (info == 0 && found == 1) result = w_all[0] > 0 ? __builtin_sqrt(w_all[0]) : 0;
        }
        free(work); free(iwork);
    }
    free(m); free(g); free(isuppz); free(w_all);
    return result;
}
