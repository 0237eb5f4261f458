// Positional noise embedding y[n] = [sin(t f_i), cos(t f_i)] computed in double like the CPU backend. The frequencies
// f_i = (1/10000)^(i/(half-1)) come from the host (double). sin/cos use a double range reduction by 2 pi and Taylor
// series on [-pi, pi] (error below 1e-15), since libdevice is not linked.
#include "cuda_compat.h"

DEV void sin_cos(double a, double* s, double* c)
{
    const double twoPiHi = 6.283185307179586, twoPiLo = 2.4492935982947064e-16;
    double k = rint_d(a * 0.15915494309189535);
    double r = fma_d(-k, twoPiLo, fma_d(-k, twoPiHi, a));
    double r2 = r * r;
    double sn = 0, cs = 0, termS = r, termC = 1;
    for (int i = 1; i <= 15; i++)
    {
        sn += termS;
        cs += termC;
        termS *= -r2 / ((2.0 * i) * (2.0 * i + 1));
        termC *= -r2 / ((2.0 * i - 1) * (2.0 * i));
    }
    *s = sn;
    *c = cs;
}

KERNEL void cu_positional_embedding(const float* t, const double* freqs, float* y, int samples, int half)
{
    long long total = (long long)samples * half;
    for (long long i = global_id(); i < total; i += grid_stride())
    {
        int n = (int)i / half, j = (int)i - n * half;
        double s, c;
        sin_cos((double)t[n] * freqs[j], &s, &c);
        y[(long long)n * 2 * half + j] = (float)s;
        y[(long long)n * 2 * half + half + j] = (float)c;
    }
}
