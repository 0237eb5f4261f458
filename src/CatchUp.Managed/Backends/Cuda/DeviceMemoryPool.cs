namespace CatchUp.Backends.Cuda;

/// <summary>
/// Device allocations recycled by size (256-byte granules), so a steady-state training step allocates nothing on the
/// device. Blocks stay allocated until the pool is disposed.
/// </summary>
internal sealed class DeviceMemoryPool(DeviceRuntime runtime) : IDisposable
{
    private readonly Dictionary<long, Stack<ulong>> _free = new();
    private readonly List<ulong> _owned = new();

    public long BytesAllocated { get; private set; }
    public long AllocationCount { get; private set; }

    public static long RoundedBytes(long floats) => Math.Max(256, (floats * sizeof(float) + 255) & ~255L);

    public ulong Rent(long bytes)
    {
        if (_free.TryGetValue(bytes, out var stack) && stack.Count > 0) return stack.Pop();
        ulong p = runtime.Allocate(bytes);
        _owned.Add(p);
        BytesAllocated += bytes;
        AllocationCount++;
        return p;
    }

    public void Return(ulong pointer, long bytes)
    {
        if (!_free.TryGetValue(bytes, out var stack)) _free[bytes] = stack = new Stack<ulong>();
        stack.Push(pointer);
    }

    public void Dispose()
    {
        foreach (var p in _owned) runtime.Release(p);
        _owned.Clear();
        _free.Clear();
    }
}

/// <summary>Grow-only device buffers owned by the backend, one per use (attention scores, partial sums).</summary>
internal sealed class DeviceScratch(DeviceRuntime runtime) : IDisposable
{
    private readonly Dictionary<ScratchSlot, (ulong Pointer, long Bytes)> _buffers = new();

    public ulong Get(ScratchSlot slot, long bytes)
    {
        bytes = Math.Max(bytes, 256);
        if (_buffers.TryGetValue(slot, out var b) && b.Bytes >= bytes) return b.Pointer;
        if (b.Pointer != 0)
        {
            runtime.Synchronize();   // queued work may still read the old buffer
            runtime.Release(b.Pointer);
        }
        long grown = bytes + bytes / 4;
        var p = runtime.Allocate(grown);
        _buffers[slot] = (p, grown);
        return p;
    }

    public void Dispose()
    {
        foreach (var b in _buffers.Values) runtime.Release(b.Pointer);
        _buffers.Clear();
    }
}

internal enum ScratchSlot { AttentionScores, AttentionGrad, GroupNormPartials, ReductionPartials, ReductionResult }
