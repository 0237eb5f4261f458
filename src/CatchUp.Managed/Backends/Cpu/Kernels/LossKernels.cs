using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

// STUB
internal static class LossKernels
{
    public static float Mse(WorkerPool pool, Tensor a, Tensor b, Tensor? grad, float gradScale) => throw new NotImplementedException();
    public static float Kl(Tensor muLogvar, Tensor? grad, float gradScale) => throw new NotImplementedException();
}
