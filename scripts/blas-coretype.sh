#!/usr/bin/env bash
# The OpenBLAS kernel tempscale's CLI picks when OPENBLAS_CORETYPE is unset (see
# Sources/tempscale/BLASSetup.swift); make test and make bench use the same for the test process.
# Prints nothing when the variable is already set or the CPU has neither AVX-512 nor AVX2.
[ -n "${OPENBLAS_CORETYPE:-}" ] && exit 0
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { [[ " $flags " == *" $1 "* ]]; }
if has avx512f && has avx512bw && has avx512dq && has avx512vl; then echo SkylakeX
elif has avx2 && has fma; then echo Haswell
fi
