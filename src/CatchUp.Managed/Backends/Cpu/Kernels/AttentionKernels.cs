using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu.Kernels;

// STUB
internal static class AttentionKernels
{
    public static void Forward(WorkerPool pool, Tensor qkv, Tensor y, Tensor? probs) => throw new NotImplementedException();
    public static void Backward(WorkerPool pool, Tensor qkv, Tensor probs, Tensor dy, Tensor dqkv) => throw new NotImplementedException();
}
