// Host emulation of the CUDA execution model, just enough for native/kernels: a launch runs its blocks one after
// another on a pool of BLOCK host threads; __shared__ variables are statics (one block at a time uses them);
// __syncthreads is a barrier over the pool. Used only by the kernel-logic tests (native/build-emulator.sh).
#pragma once
#include <cmath>
#include <cstring>

struct EmuDim { unsigned x, y, z; };
extern thread_local EmuDim threadIdx, blockIdx;
extern EmuDim blockDim, gridDim;
void __syncthreads();

#define __global__
#define __device__
#define __shared__ static
#define __forceinline__ inline
#ifndef BLOCK
#define BLOCK 8
#endif
