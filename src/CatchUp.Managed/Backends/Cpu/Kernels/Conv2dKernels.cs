using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

// STUB: replaced by the conv kernel work.
internal static class Conv2dKernels
{
    public static void Forward(WorkerPool pool, Tensor x, Tensor w, Tensor? bias, Tensor y) => throw new NotImplementedException();
    public static void Backward(WorkerPool pool, Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias) => throw new NotImplementedException();
}
