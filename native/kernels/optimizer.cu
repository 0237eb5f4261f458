// Adam/AdamW and the EMA update (IBackend.AdamStep, EmaUpdate). Bias corrections bc1 = 1 - beta1^step and
// bc2 = 1 - beta2^step come from the host.
#include "cuda_compat.h"

KERNEL void cu_adam(float* p, const float* g, float* m, float* v, int n, float lr, float beta1, float beta2, float eps,
    float weightDecay, float bc1, float bc2, int decoupled)
{
    for (long long i = global_id(); i < n; i += grid_stride())
    {
        float grad = g[i];
        if (!decoupled && weightDecay != 0.0f) grad += weightDecay * p[i];
        float mi = m[i] = beta1 * m[i] + (1.0f - beta1) * grad;
        float vi = v[i] = beta2 * v[i] + (1.0f - beta2) * grad * grad;
        float update = (mi / bc1) / (sqrt_f(vi / bc2) + eps);
        if (decoupled && weightDecay != 0.0f) update += weightDecay * p[i];
        p[i] -= lr * update;
    }
}

// ema += (1 - decay) * (param - ema), the form that stays accurate near decay = 1.
KERNEL void cu_ema(float* ema, const float* param, int n, float oneMinusDecay)
{
    for (long long i = global_id(); i < n; i += grid_stride()) ema[i] = fma_f(param[i] - ema[i], oneMinusDecay, ema[i]);
}
