using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

// STUB
internal static class ConcatKernels
{
    public static void Forward(WorkerPool pool, Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y) => throw new NotImplementedException();
    public static void Backward(WorkerPool pool, Tensor dy, Tensor? scaleA, Tensor? scaleB, Tensor da, Tensor db) => throw new NotImplementedException();
}
