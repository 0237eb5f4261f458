using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

// STUB
internal static class ResampleKernels
{
    public static void AvgPool2x(WorkerPool pool, Tensor x, Tensor y) => throw new NotImplementedException();
    public static void AvgPool2xBackward(WorkerPool pool, Tensor dy, Tensor dx) => throw new NotImplementedException();
    public static void Upsample2x(WorkerPool pool, Tensor x, Tensor y) => throw new NotImplementedException();
    public static void Upsample2xBackward(WorkerPool pool, Tensor dy, Tensor dx) => throw new NotImplementedException();
}
