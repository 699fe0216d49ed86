import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Debian's OpenBLAS 0.3.21 does not know recent CPUs (AMD Zen 4 among them) and falls back to its
/// SSE3 "Prescott" kernels, ~3× slower than the AVX2 ones. The kernel is chosen from
/// OPENBLAS_CORETYPE when the library loads, before any of our code runs, so when the variable is
/// unset and the CPU has AVX2 and FMA we set it to Haswell and re-execute ourselves once.
/// A value the user set always wins.
func ensureFastBLASKernels() {
    guard getenv("OPENBLAS_CORETYPE") == nil, getenv("TEMPSCALE_BLAS_REEXEC") == nil, cpuHasAVX2AndFMA() else { return }
    setenv("OPENBLAS_CORETYPE", "Haswell", 1)
    setenv("TEMPSCALE_BLAS_REEXEC", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv returned: carry on with whatever kernels OpenBLAS picked.
}

func cpuHasAVX2AndFMA() -> Bool { ts_has_avx2_fma() != 0 }
