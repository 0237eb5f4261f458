// The element-wise parts of one-head self-attention; the four products run on cuBLAS (strided batched GEMMs over the
// interleaved qkv layout). Rows are contiguous [rows, cols] float matrices; one block per row.
#include "cuda_compat.h"

// In place: s[row, :] = softmax(s[row, :]).
KERNEL void cu_softmax_rows(float* s, int rows, int cols)
{
    __shared__ double red[BLOCK];
    __shared__ float redMax[BLOCK];
    float* row = s + (long long)blockIdx.x * cols;
    float m = -3.402823466e38f;
    for (int j = threadIdx.x; j < cols; j += BLOCK) m = max_f(m, row[j]);
    m = block_max(m, redMax);
    double sum = 0;
    for (int j = threadIdx.x; j < cols; j += BLOCK)
    {
        float e = exp_f(row[j] - m);
        row[j] = e;
        sum += e;
    }
    float inv = (float)(1.0 / block_sum(sum, red));
    for (int j = threadIdx.x; j < cols; j += BLOCK) row[j] *= inv;
}

// In place: dw[row, :] = w * (dw - sum_j w[row, j] dw[row, j]) (softmax backward).
KERNEL void cu_softmax_backward_rows(const float* w, float* dw, int rows, int cols)
{
    __shared__ double red[BLOCK];
    const float* wr = w + (long long)blockIdx.x * cols;
    float* dr = dw + (long long)blockIdx.x * cols;
    double dot = 0;
    for (int j = threadIdx.x; j < cols; j += BLOCK) dot += (double)wr[j] * dr[j];
    float d = (float)block_sum(dot, red);
    for (int j = threadIdx.x; j < cols; j += BLOCK) dr[j] = wr[j] * (dr[j] - d);
}
