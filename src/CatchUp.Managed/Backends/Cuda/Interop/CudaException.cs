namespace CatchUp.Backends.Cuda.Interop;

/// <summary>A CUDA driver, cuBLAS or cuDNN call returned an error; the message names the call and the status.</summary>
public sealed class CudaException : Exception
{
    public CudaException(string message) : base(message) { }
    public CudaException(string message, Exception inner) : base(message, inner) { }
}
