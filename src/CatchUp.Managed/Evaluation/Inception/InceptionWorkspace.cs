using System.Runtime.InteropServices;
using CatchUp.Backends.Cpu;

namespace CatchUp.Evaluation.Inception;

/// <summary>
/// The buffers one thread needs to push one image through the network: two block-level activation buffers (a block
/// reads one and writes the other), three branch temporaries, the im2col columns, the GEMM's packed B strip, a staging
/// plane for the input and a plane for the pool branch's row pass. All 64-byte aligned native memory, allocated once and reused for every image.
/// </summary>
internal sealed unsafe class InceptionWorkspace : IDisposable
{
    /// <summary>The largest activation in the network: Conv2d_2b_3x3's output, 64 x 147 x 147.</summary>
    public const long ActivationFloats = 64L * 147 * 147;

    private const int BufferCount = 5;
    private readonly float*[] _buffers = new float*[BufferCount];
    private float* _columns;
    private long _columnFloats;
    private float* _staging;
    private long _stagingFloats;
    private float* _poolRows;
    private long _poolRowsFloats;
    private bool _disposed;

    /// <param name="pool">When given, each convolution splits its output positions over the pool's workers (one image at a
    /// time, all cores on it); the pool belongs to the caller.</param>
    public InceptionWorkspace(GemmPath path, WorkerPool? pool = null)
    {
        Path = path;
        Pool = pool;
        for (int i = 0; i < BufferCount; i++) _buffers[i] = Allocate(ActivationFloats);
        Strip = Allocate(PackedGemm.StripBufferFloats);
    }

    public GemmPath Path { get; }
    public WorkerPool? Pool { get; }
    public float* Strip { get; }
    public float* BlockA => _buffers[0];
    public float* BlockB => _buffers[1];
    public float* Temp1 => _buffers[2];
    public float* Temp2 => _buffers[3];
    public float* Temp3 => _buffers[4];

    /// <summary>im2col space of at least <paramref name="floats"/> elements (grows on first use, then is reused).</summary>
    public float* Columns(long floats) => Grow(ref _columns, ref _columnFloats, floats);

    /// <summary>One input-resolution plane for the value-range conversion before resizing.</summary>
    public float* Staging(long floats) => Grow(ref _staging, ref _stagingFloats, floats);

    /// <summary>One plane of row-pass results for <see cref="Pooling.Window3x3Same"/>.</summary>
    public float* PoolRows(long floats) => Grow(ref _poolRows, ref _poolRowsFloats, floats);

    private static float* Grow(ref float* buffer, ref long capacity, long floats)
    {
        if (capacity < floats)
        {
            NativeMemory.AlignedFree(buffer);
            buffer = Allocate(floats);
            capacity = floats;
        }
        return buffer;
    }

    private static float* Allocate(long floats) => (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);

    ~InceptionWorkspace() => Free();

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (float* b in _buffers) NativeMemory.AlignedFree(b);
        NativeMemory.AlignedFree(Strip);
        NativeMemory.AlignedFree(_columns);
        NativeMemory.AlignedFree(_staging);
        NativeMemory.AlignedFree(_poolRows);
    }
}
