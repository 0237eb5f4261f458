using CatchUp.Backends.Cuda.Interop;

namespace CatchUp.Backends.Cuda;

/// <summary>
/// The embedded PTX modules loaded into the current context, and the only way the backend launches a kernel: by its
/// <see cref="KernelDeclaration"/>, with arguments checked against the declared parameter kinds. The declarations are
/// verified against the PTX entries when the library loads, so a stale PTX fails here with a clear message.
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

    /// <summary>Launches over <paramref name="elements"/> work items with grid-stride loops (grid capped).</summary>
    public void LaunchElements(KernelDeclaration kernel, long elements, params ReadOnlySpan<KernelArg> args)
    {
        long blocks = Math.Clamp((elements + CudaKernels.BlockSize - 1) / CudaKernels.BlockSize, 1, 65535);
        Launch(kernel, (uint)blocks, args);
    }

    /// <summary>Launches <paramref name="blocks"/> blocks of <see cref="CudaKernels.BlockSize"/> threads.</summary>
    public void Launch(KernelDeclaration kernel, uint blocks, params ReadOnlySpan<KernelArg> args)
    {
        if (!_functions.TryGetValue(kernel, out var function)) throw new InvalidOperationException($"{kernel.Name} is not a declared kernel");
        var kinds = kernel.Params;
        if (args.Length != kinds.Length) throw new ArgumentException($"{kernel}: {args.Length} arguments passed");
        ulong* values = stackalloc ulong[args.Length];
        void** pointers = stackalloc void*[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            bool compatible = args[i].Kind == kinds[i] || (kinds[i] == KernelParamKind.U64 && args[i].Kind == KernelParamKind.Ptr);
            if (!compatible) throw new ArgumentException($"{kernel}: argument {i} is {args[i].Kind}");
            values[i] = args[i].Bits;
            pointers[i] = values + i;
        }
        if (blocks == 0) return;
        CudaDriver.Check(CudaDriver.cuLaunchKernel(function, blocks, 1, 1, CudaKernels.BlockSize, 1, 1, 0, _stream, pointers, null),
            $"cuLaunchKernel({kernel.Name})");
    }

    public void Dispose()
    {
        foreach (var m in _modules) m.Dispose();
        _modules.Clear();
    }
}
