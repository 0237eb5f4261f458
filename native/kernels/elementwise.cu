// Element-wise ops of IBackend (Fill and Copy are driver memset/memcpy calls). Grid-stride loops over n elements.
#include "cuda_compat.h"

// y = a*x + b*y; b == 0 ignores y (as the CPU backend does, so a NaN in y does not leak).
KERNEL void cu_axpby(const float* x, float* y, int n, float a, float b)
{
    for (long long i = global_id(); i < n; i += grid_stride())
        y[i] = b == 0.0f ? a * x[i] : fma_f(a, x[i], b * y[i]);
}

// y = (a + b) * scale.
KERNEL void cu_add_scale(const float* a, const float* b, float* y, int n, float scale)
{
    for (long long i = global_id(); i < n; i += grid_stride()) y[i] = (a[i] + b[i]) * scale;
}

KERNEL void cu_silu(const float* x, float* y, int n)
{
    for (long long i = global_id(); i < n; i += grid_stride()) y[i] = x[i] * sigmoid_f(x[i]);
}

// dx = dy * silu'(x) = dy * s * (1 + x (1 - s)), s = sigmoid(x).
KERNEL void cu_silu_backward(const float* x, const float* dy, float* dx, int n)
{
    for (long long i = global_id(); i < n; i += grid_stride())
    {
        float s = sigmoid_f(x[i]);
        dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}
