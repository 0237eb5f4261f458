using System.Runtime.InteropServices;
using System.Text;
using CatchUp.Backends.Cuda;

namespace CatchUp.Tests.Cuda;

/// <summary>
/// A <see cref="DeviceRuntime"/> on the host: "device" memory is native memory, kernels run in the emulator library
/// built from the same native/kernels sources (native/build-emulator.sh), SGEMM and the convolutions are plain loops
/// with cuBLAS/cuDNN semantics (column-major, alpha/beta; cross-correlation with padding k/2). With it the CUDA
/// backend's own C# code (launch arguments, GEMM layouts, reductions, scratch buffers) runs against the CPU backend on
/// machines without a GPU. What it cannot check: the driver/cuBLAS/cuDNN bindings themselves and real GPU concurrency.
/// </summary>
internal sealed unsafe class EmulatedRuntime : DeviceRuntime
{
    public static readonly string LibraryPath = RepositoryFiles.Path("native", "build", "libcatchup_kernels_emu.so");
    private static readonly Lazy<nint> Library = new(() => NativeLibrary.Load(LibraryPath));

    /// <summary>Null when the emulator library is built, else why the emulated tests are skipped.</summary>
    public static string? SkipReason => File.Exists(LibraryPath) ? null
        : $"kernel emulator not built ({LibraryPath}): run native/build-emulator.sh or ./build.sh --target=Kernels";

    private readonly delegate* unmanaged<byte*, uint, void**, int> _launch =
        (delegate* unmanaged<byte*, uint, void**, int>)NativeLibrary.GetExport(Library.Value, "emu_launch");
    private readonly HashSet<ulong> _blocks = new();
    private double[] _acc = [];
    private readonly Dictionary<KernelDeclaration, byte[]> _names = new(ReferenceEqualityComparer.Instance);

    public long Launches { get; private set; }
    public override string Description => "host emulation";

    public override ulong Allocate(long bytes)
    {
        ulong p = (ulong)NativeMemory.AlignedAlloc((nuint)bytes, 256);
        _blocks.Add(p);
        return p;
    }

    public override void Release(ulong pointer)
    {
        if (_blocks.Remove(pointer)) NativeMemory.AlignedFree((void*)pointer);
    }

    public override void Memset32(ulong pointer, uint value, long count) => new Span<uint>((void*)pointer, checked((int)count)).Fill(value);
    public override void CopyToDevice(ulong destination, void* source, long bytes) => Buffer.MemoryCopy(source, (void*)destination, bytes, bytes);
    public override void CopyToHost(void* destination, ulong source, long bytes) => Buffer.MemoryCopy((void*)source, destination, bytes, bytes);
    public override void CopyOnDevice(ulong destination, ulong source, long bytes) => Buffer.MemoryCopy((void*)source, (void*)destination, bytes, bytes);
    public override void Synchronize() { }

    public override void Launch(KernelDeclaration kernel, uint blocks, ReadOnlySpan<KernelArg> args)
    {
        CheckArguments(kernel, args);
        ulong* values = stackalloc ulong[args.Length];
        void** pointers = stackalloc void*[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            values[i] = args[i].Bits;
            pointers[i] = values + i;
        }
        if (!_names.TryGetValue(kernel, out var name)) _names[kernel] = name = Encoding.ASCII.GetBytes(kernel.Name + "\0");
        int result;
        fixed (byte* n = name) result = _launch(n, blocks, pointers);
        if (result != 0) throw new InvalidOperationException($"the emulator has no kernel {kernel.Name}");
        Launches++;
    }

    public override void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, ulong a, int lda, long strideA,
        ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch)
    {
        for (int s = 0; s < batch; s++)
        {
            float* A = (float*)a + s * strideA, B = (float*)b + s * strideB, C = (float*)c + s * strideC;
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++)
                {
                    double sum = 0;
                    for (int l = 0; l < k; l++)
                        sum += (double)(transA ? A[l + (long)i * lda] : A[i + (long)l * lda]) * (transB ? B[j + (long)l * ldb] : B[l + (long)j * ldb]);
                    float* o = C + i + (long)j * ldc;
                    *o = beta == 0f ? (float)(alpha * sum) : (float)(alpha * sum + beta * *o);
                }
        }
    }

    public override void ConvForward(ConvShape s, ulong x, ulong w, ulong y) => Convolve(s, (float*)x, (float*)w, (float*)y, Pass.Forward);
    public override void ConvBackwardData(ConvShape s, ulong w, ulong dy, ulong dx) => Convolve(s, (float*)dx, (float*)w, (float*)dy, Pass.Data);
    public override void ConvBackwardFilter(ConvShape s, ulong x, ulong dy, ulong dw) => Convolve(s, (float*)x, (float*)dw, (float*)dy, Pass.Filter);

    private enum Pass { Forward, Data, Filter }

    /// <summary>y[n,o,i,j] = sum x[n,c,i+u-p,j+v-p] w[o,c,u,v]; the data pass writes dx (given dy in y), the filter pass adds to dw.</summary>
    private void Convolve(ConvShape s, float* x, float* w, float* y, Pass pass)
    {
        int p = s.K / 2, hw = s.H * s.W;
        long size = pass == Pass.Forward ? (long)s.N * s.Cout * hw : pass == Pass.Data ? (long)s.N * s.Cin * hw : (long)s.Cout * s.Cin * s.K * s.K;
        if (_acc.Length < size) _acc = new double[size];
        var acc = _acc;
        Array.Clear(acc, 0, (int)size);
        for (int n = 0; n < s.N; n++)
            for (int o = 0; o < s.Cout; o++)
                for (int c = 0; c < s.Cin; c++)
                    for (int u = 0; u < s.K; u++)
                        for (int v = 0; v < s.K; v++)
                        {
                            long wi = (((long)o * s.Cin + c) * s.K + u) * s.K + v;
                            for (int i = 0; i < s.H; i++)
                            {
                                int ii = i + u - p;
                                if (ii < 0 || ii >= s.H) continue;
                                for (int j = 0; j < s.W; j++)
                                {
                                    int jj = j + v - p;
                                    if (jj < 0 || jj >= s.W) continue;
                                    long xi = ((long)n * s.Cin + c) * hw + ii * s.W + jj, yi = ((long)n * s.Cout + o) * hw + i * s.W + j;
                                    switch (pass)
                                    {
                                        case Pass.Forward: acc[yi] += (double)x[xi] * w[wi]; break;
                                        case Pass.Data: acc[xi] += (double)y[yi] * w[wi]; break;
                                        default: acc[wi] += (double)y[yi] * x[xi]; break;
                                    }
                                }
                            }
                        }
        float* target = pass == Pass.Forward ? y : pass == Pass.Data ? x : w;
        for (long i = 0; i < size; i++) target[i] = pass == Pass.Filter ? target[i] + (float)acc[i] : (float)acc[i];
    }

    public override void Dispose()
    {
        foreach (var p in _blocks) NativeMemory.AlignedFree((void*)p);
        _blocks.Clear();
    }
}
