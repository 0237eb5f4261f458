using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

// STUB
internal static class GroupNormKernels
{
    public static void Forward(WorkerPool pool, Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, float eps, bool silu,
        DropoutSpec dropout, Tensor y, Tensor mean, Tensor rstd) => throw new NotImplementedException();
    public static void Backward(WorkerPool pool, Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, bool silu, DropoutSpec dropout,
        Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor? dshift, Tensor dgamma, Tensor dbeta) => throw new NotImplementedException();
}
