using CatchUp.Backends.Cuda.Interop;

namespace CatchUp.Backends.Cuda;

/// <summary>
/// Device allocations recycled by size (256-byte granules), so a steady-state training step calls cuMemAlloc
/// never. Blocks stay owned by the pool (as SafeHandles) until it is disposed.
/// </summary>
internal sealed class DeviceMemoryPool : IDisposable
{
    private readonly Dictionary<long, Stack<ulong>> _free = new();
    private readonly Dictionary<ulong, DeviceMemoryHandle> _owned = new();

    public long BytesAllocated { get; private set; }
    public long AllocationCount { get; private set; }

    public static long RoundedBytes(long floats) => Math.Max(256, (floats * sizeof(float) + 255) & ~255L);

    public ulong Rent(long bytes)
    {
        if (_free.TryGetValue(bytes, out var stack) && stack.Count > 0) return stack.Pop();
        var block = DeviceMemoryHandle.Allocate(bytes);
        _owned[block.Pointer] = block;
        BytesAllocated += bytes;
        AllocationCount++;
        return block.Pointer;
    }

    public void Return(ulong pointer, long bytes)
    {
        if (!_free.TryGetValue(bytes, out var stack)) _free[bytes] = stack = new Stack<ulong>();
        stack.Push(pointer);
    }

    public void Dispose()
    {
        foreach (var block in _owned.Values) block.Dispose();
        _owned.Clear();
        _free.Clear();
    }
}

/// <summary>Grow-only device buffers owned by the backend, one per use (cuDNN workspace, attention scores, partial sums).</summary>
internal sealed class DeviceScratch : IDisposable
{
    private readonly Dictionary<ScratchSlot, DeviceMemoryHandle> _buffers = new();
    private readonly Action _synchronize;

    public DeviceScratch(Action synchronize) => _synchronize = synchronize;

    public ulong Get(ScratchSlot slot, long bytes)
    {
        bytes = Math.Max(bytes, 256);
        if (_buffers.TryGetValue(slot, out var b) && b.Bytes >= bytes) return b.Pointer;
        if (b != null)
        {
            _synchronize();   // queued work may still read the old buffer
            b.Dispose();
        }
        var grown = DeviceMemoryHandle.Allocate(bytes + bytes / 4);
        _buffers[slot] = grown;
        return grown.Pointer;
    }

    public void Dispose()
    {
        foreach (var b in _buffers.Values) b.Dispose();
        _buffers.Clear();
    }
}

internal enum ScratchSlot { ConvWorkspace, AttentionScores, AttentionGrad, GroupNormPartials, ReductionPartials, ReductionResult }
