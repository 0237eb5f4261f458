using CatchUp.Tensors;
using ILGPU;
using ILGPU.Runtime;

namespace CatchUp.Backends.Ilgpu;

/// <summary>
/// Device buffers behind tensors. A tensor's handle is a key into this table (ILGPU buffers have no stable address
/// valid on every accelerator); freed buffers are kept by capacity and handed out again, like the other backends' pools.
/// </summary>
internal sealed class IlgpuMemory(Accelerator accelerator) : IDisposable
{
    private readonly Dictionary<nint, MemoryBuffer1D<float, Stride1D.Dense>> _buffers = new();
    private readonly Dictionary<long, Stack<nint>> _free = new();
    private nint _nextHandle = 64;

    public long BytesAllocated { get; private set; }
    public long AllocationCount { get; private set; }

    /// <summary>Capacity in floats: a multiple of 16, at least 16.</summary>
    private static long Capacity(long length) => Math.Max(16, (length + 15) & ~15L);

    public nint Rent(long length)
    {
        long capacity = Capacity(length);
        if (_free.TryGetValue(capacity, out var stack) && stack.Count > 0) return stack.Pop();
        var buffer = accelerator.Allocate1D<float>(capacity);
        BytesAllocated += capacity * sizeof(float);
        AllocationCount++;
        nint handle = _nextHandle;
        _nextHandle += 64;
        _buffers[handle] = buffer;
        return handle;
    }

    public void Return(nint handle, long length)
    {
        long capacity = Capacity(length);
        if (!_free.TryGetValue(capacity, out var stack)) _free[capacity] = stack = new Stack<nint>();
        stack.Push(handle);
    }

    public ArrayView<float> View(Tensor t)
    {
        if (!_buffers.TryGetValue(t.Handle, out var buffer))
            throw new ArgumentException($"tensor {t.ShapeString} does not belong to this ILGPU backend (or is disposed)");
        return buffer.View.SubView(0, t.Length);
    }

    public void Dispose()
    {
        foreach (var b in _buffers.Values) b.Dispose();
        _buffers.Clear();
        _free.Clear();
    }
}

/// <summary>Growable device scratch buffers, one per purpose, for intermediate results that no tensor holds.</summary>
internal sealed class IlgpuScratch(Accelerator accelerator) : IDisposable
{
    private readonly Dictionary<string, MemoryBuffer> _buffers = new();

    public ArrayView<T> Get<T>(string slot, long length) where T : unmanaged
    {
        length = Math.Max(1, length);
        if (_buffers.TryGetValue(slot, out var existing) && existing is MemoryBuffer1D<T, Stride1D.Dense> typed && typed.Length >= length)
            return typed.View.SubView(0, length);
        if (existing != null)
        {
            accelerator.Synchronize();   // queued kernels may still use the old buffer
            existing.Dispose();
        }
        var buffer = accelerator.Allocate1D<T>(length);
        _buffers[slot] = buffer;
        return buffer.View.SubView(0, length);
    }

    public void Dispose()
    {
        foreach (var b in _buffers.Values) b.Dispose();
        _buffers.Clear();
    }
}
