// Shared by every kernel file. Compiles with nvcc (CUDA headers present) and with clang -nocudainc -nocudalib
// (no CUDA SDK at all): everything below maps straight onto PTX instructions, so the PTX never calls libdevice.
#pragma once

#if defined(CATCHUP_EMULATION)
// Host build for the kernel-logic tests (native/emulation): blocks run on a pool of BLOCK host threads.
#include "../emulation/emulate.h"
#elif !defined(__NVCC__)
#include <__clang_cuda_builtin_vars.h>
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __attribute__((always_inline)) inline
#endif

#define KERNEL extern "C" __global__
#define DEV static __device__ __forceinline__

typedef unsigned long long u64;

// Threads per block of every 1-d launch; the C# side launches with the same value (CudaKernels.BlockSize). Every
// kernel strides by BLOCK or blockDim, so the host emulation may use a smaller power of two.
#ifndef BLOCK
#define BLOCK 256
#endif

// A tensor holds at most INT_MAX floats (Tensor.Length is an int), so kernels walk element indices as 64-bit (no
// overflow at i + stride) but divide them as 32-bit ints: 64-bit division is a long instruction sequence on the GPU.
DEV long long global_id() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
DEV long long grid_stride() { return (long long)gridDim.x * blockDim.x; }

#if defined(CATCHUP_EMULATION)
#include "../emulation/emulate_math.h"
#else
DEV float fma_f(float a, float b, float c) { float r; asm("fma.rn.f32 %0, %1, %2, %3;" : "=f"(r) : "f"(a), "f"(b), "f"(c)); return r; }
DEV double fma_d(double a, double b, double c) { double r; asm("fma.rn.f64 %0, %1, %2, %3;" : "=d"(r) : "d"(a), "d"(b), "d"(c)); return r; }
DEV float rint_f(float x) { float r; asm("cvt.rni.f32.f32 %0, %1;" : "=f"(r) : "f"(x)); return r; }
DEV double rint_d(double x) { double r; asm("cvt.rni.f64.f64 %0, %1;" : "=d"(r) : "d"(x)); return r; }
DEV int float_to_int_rn(float x) { int r; asm("cvt.rni.s32.f32 %0, %1;" : "=r"(r) : "f"(x)); return r; }
DEV float bits_to_float(int b) { float r; asm("mov.b32 %0, %1;" : "=f"(r) : "r"(b)); return r; }
DEV float sqrt_f(float x) { float r; asm("sqrt.rn.f32 %0, %1;" : "=f"(r) : "f"(x)); return r; }
DEV double sqrt_d(double x) { double r; asm("sqrt.rn.f64 %0, %1;" : "=d"(r) : "d"(x)); return r; }
#endif
DEV float min_f(float a, float b) { return a < b ? a : b; }
DEV float max_f(float a, float b) { return a > b ? a : b; }

// e^x as the CPU backend computes it (SimdMath.Exp: Cephes range reduction, degree-6 polynomial), so both backends
// agree to about an ulp. Inputs are clamped to [-87.3, 88].
DEV float exp_f(float x)
{
    x = min_f(max_f(x, -87.3f), 88.0f);
    float n = rint_f(x * 1.44269504088896341f);
    float r = fma_f(n, -0.693359375f, x);
    r = fma_f(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fma_f(p, r, 1.3981999507e-3f);
    p = fma_f(p, r, 8.3334519073e-3f);
    p = fma_f(p, r, 4.1665795894e-2f);
    p = fma_f(p, r, 1.6666665459e-1f);
    p = fma_f(p, r, 5.0000001201e-1f);
    float y = fma_f(p, r * r, r + 1.0f);
    return y * bits_to_float((float_to_int_rn(n) + 127) << 23);
}

DEV float sigmoid_f(float z) { return 1.0f / (1.0f + exp_f(-z)); }

// Dropout mask bit-exact with Nn/CounterRng: Hash(seed, i) is SplitMix64's finalizer of seed + golden * (i + 1);
// element i is kept iff (Hash >> 40) >= threshold (threshold = ceil(p * 2^24), see SimdMath.DropThreshold).
DEV u64 counter_hash(u64 seed, u64 index)
{
    u64 z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

DEV bool dropout_keep(u64 seed, u64 index, int threshold) { return (long long)(counter_hash(seed, index) >> 40) >= threshold; }

// Block-wide sum over BLOCK threads through shared memory; every thread gets the total. `scratch` holds BLOCK doubles.
DEV double block_sum(double v, double* scratch)
{
    scratch[threadIdx.x] = v;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1)
    {
        if ((int)threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
        __syncthreads();
    }
    double total = scratch[0];
    __syncthreads();
    return total;
}

DEV float block_max(float v, float* scratch)
{
    scratch[threadIdx.x] = v;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1)
    {
        if ((int)threadIdx.x < s) scratch[threadIdx.x] = max_f(scratch[threadIdx.x], scratch[threadIdx.x + s]);
        __syncthreads();
    }
    float m = scratch[0];
    __syncthreads();
    return m;
}
