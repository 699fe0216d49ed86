import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Debian's OpenBLAS 0.3.21 does not recognise recent CPUs (this project's Xeon machines among
/// them) and falls back to its SSE3 "Prescott" kernels: sgemm measured 14–32 GFLOP/s there against
/// 78 (Haswell) and 132 (SkylakeX) when forced. The kernel is chosen from OPENBLAS_CORETYPE when
/// the library loads, before any of our code runs, so when the variable is unset we pick the best
/// kernel the CPU supports and re-execute ourselves once. A value the user set always wins; the
/// golden verification passes with either kernel.
func ensureFastBLASKernels() {
    guard getenv("OPENBLAS_CORETYPE") == nil, getenv("TEMPSCALE_BLAS_REEXEC") == nil, let core = bestCoreType() else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    setenv("TEMPSCALE_BLAS_REEXEC", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv returned: carry on with whatever kernels OpenBLAS picked.
}

func bestCoreType() -> String? {
    if ts_has_avx512_skx() != 0 { return "SkylakeX" }
    if ts_has_avx2_fma() != 0 { return "Haswell" }
    return nil
}
