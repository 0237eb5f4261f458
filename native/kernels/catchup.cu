// The Runge-Kutta catch-up integration of SPEC section 3 in one pass: the point where the teacher is evaluated next,
//   y = z - dt[n] * (c1 k1 + c2 k2 + c3 k3)            (k2, k3 may be null: coefficient ignored)
// and its time, time[n] = t[n] - timeShift * dt[n], clamped to [eps, 1] when clampTime != 0 (c(s) of SPEC 3).
// The time is written by the first `samples` threads of the same launch.
#include "cuda_compat.h"

KERNEL void cu_catchup_point(const float* z, const float* k1, const float* k2, const float* k3, const float* t,
    const float* dt, float* y, float* time, int samples, int sampleSize, float c1, float c2, float c3, float timeShift,
    int clampTime, float eps)
{
    long long total = (long long)samples * sampleSize;
    long long first = global_id();
    if (first < samples)
    {
        float s = t[first] - timeShift * dt[first];
        time[first] = clampTime ? min_f(max_f(s, eps), 1.0f) : s;
    }
    for (long long i = first; i < total; i += grid_stride())
    {
        float direction = c1 * k1[i];
        if (k2) direction = fma_f(c2, k2[i], direction);
        if (k3) direction = fma_f(c3, k3[i], direction);
        y[i] = z[i] - dt[(int)i / sampleSize] * direction;
    }
}
