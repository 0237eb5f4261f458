namespace CatchUp.Migration;

// The inert values the restricted unpickler builds. Python None, bool, int, float, str and bytes map to null, bool, long,
// double, string and byte[]; nothing here can run code.

/// <summary>A Python tuple.</summary>
internal sealed record PyTuple(object?[] Items)
{
    public int Depth { get; init; }
}

/// <summary>A Python list.</summary>
internal sealed class PyList
{
    public List<object?> Items { get; } = new();
    public int Depth { get; set; }
}

/// <summary>A Python dict or OrderedDict, in insertion order. Keys are strings or integers.</summary>
internal sealed class PyDict
{
    private readonly Dictionary<object, int> _index = new();

    public List<KeyValuePair<object, object?>> Items { get; } = new();
    public int Depth { get; set; }

    public void Set(object key, object? value)
    {
        if (_index.TryGetValue(key, out int i)) Items[i] = new(key, value);
        else
        {
            _index[key] = Items.Count;
            Items.Add(new(key, value));
        }
    }

    public object? this[string key] => _index.TryGetValue(key, out int i) ? Items[i].Value : null;

    public bool ContainsKey(string key) => _index.ContainsKey(key);
}

/// <summary>One of the few module-level names a state dict may refer to (see <see cref="RestrictedUnpickler"/>).</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A PyTorch storage: the archive record <c>data/{Key}</c> holding <see cref="Numel"/> elements.</summary>
internal sealed record TorchStorage(string Key, TorchDType DType, long Numel);

/// <summary>A strided view of a storage (what <c>torch._utils._rebuild_tensor_v2</c> describes); not read until needed.</summary>
internal sealed record TorchTensor(TorchStorage Storage, long Offset, long[] Size, long[] Stride)
{
    public long ElementCount => Size.Aggregate(1L, (a, b) => a * b);
}
