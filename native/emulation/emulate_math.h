// Host versions of the PTX helpers of cuda_compat.h, with the same IEEE semantics (round-to-nearest-even, fused FMA).
#pragma once
DEV float fma_f(float a, float b, float c) { return std::fmaf(a, b, c); }
DEV double fma_d(double a, double b, double c) { return std::fma(a, b, c); }
DEV float rint_f(float x) { return std::nearbyintf(x); }
DEV double rint_d(double x) { return std::nearbyint(x); }
DEV int float_to_int_rn(float x) { return (int)std::nearbyintf(x); }
DEV float bits_to_float(int b) { float r; std::memcpy(&r, &b, sizeof r); return r; }
DEV float sqrt_f(float x) { return std::sqrt(x); }
DEV double sqrt_d(double x) { return std::sqrt(x); }
