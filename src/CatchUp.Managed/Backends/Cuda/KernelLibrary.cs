using CatchUp.Backends.Cuda.Interop;

namespace CatchUp.Backends.Cuda;

/// <summary>
/// The embedded PTX modules loaded into the current context, and the only place a kernel is launched on the GPU: by
/// its <see cref="KernelDeclaration"/>. The declarations are verified against the PTX entries when the library loads,
/// so a stale PTX fails here with a clear message.
/// </summary>
internal sealed unsafe class KernelLibrary : IDisposable
{
    private readonly List<CudaModuleHandle> _modules = new();
    private readonly Dictionary<KernelDeclaration, nint> _functions = new(ReferenceEqualityComparer.Instance);
    private readonly nint _stream;

    public KernelLibrary(nint stream)
    {
        _stream = stream;
        var ptx = PtxModules.LoadEmbedded();
        if (ptx.Count == 0)
            throw new CudaException("this build has no CUDA kernels: the PTX (native/ptx/*.ptx) was not embedded; run ./build.sh --target=Kernels and rebuild");
        var entries = new Dictionary<string, string[]>();
        var owner = new Dictionary<string, CudaModuleHandle>();
        foreach (var (name, text) in ptx)
        {
            var module = CudaModuleHandle.Load(name, text);
            _modules.Add(module);
            foreach (var (entry, types) in PtxModules.ParseEntries(text))
            {
                entries[entry] = types;
                owner[entry] = module;
            }
        }
        var problems = PtxModules.Verify(CudaKernels.All, entries);
        if (problems.Count > 0)
            throw new CudaException("the embedded PTX does not match the kernel declarations (rebuild with ./build.sh --target=Kernels): " + string.Join("; ", problems));
        foreach (var d in CudaKernels.All)
        {
            nint f;
            CudaDriver.Check(CudaDriver.cuModuleGetFunction(&f, owner[d.Name].Value, d.Name), $"cuModuleGetFunction({d.Name})");
            _functions[d] = f;
        }
    }

    /// <summary>Launches <paramref name="blocks"/> blocks of <see cref="CudaKernels.BlockSize"/> threads (arguments
    /// already checked by <see cref="DeviceRuntime.CheckArguments"/>).</summary>
    public void Launch(KernelDeclaration kernel, uint blocks, ReadOnlySpan<KernelArg> args)
    {
        if (!_functions.TryGetValue(kernel, out var function)) throw new InvalidOperationException($"{kernel.Name} is not a declared kernel");
        if (blocks == 0) return;
        ulong* values = stackalloc ulong[args.Length];
        void** pointers = stackalloc void*[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            values[i] = args[i].Bits;
            pointers[i] = values + i;
        }
        int result = CudaDriver.cuLaunchKernel(function, blocks, 1, 1, CudaKernels.BlockSize, 1, 1, 0, _stream, pointers, null);
        if (result != 0) CudaDriver.Check(result, $"cuLaunchKernel({kernel.Name})");   // the message is built only on failure
    }

    public void Dispose()
    {
        foreach (var m in _modules) m.Dispose();
        _modules.Clear();
    }
}
