using System.Buffers.Binary;
using System.Text;
using CatchUp.IO;

namespace CatchUp.Migration;

/// <summary>
/// Interprets the pickle of a <c>torch.save</c>d state dict without executing anything: it implements only the opcodes
/// <c>torch.save</c> emits (protocol 2, plus the few protocol 4 ones) and resolves only the globals a state dict needs
/// (<c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c> / <c>_rebuild_parameter</c>, the storage
/// types, <c>torch.Size</c>, dtypes). Any other global (<c>os.system</c>, <c>builtins.eval</c>, ...) is refused the moment
/// its opcode is read; "calls" of the allowed ones build inert values. The same threat model as
/// <c>torch.load(weights_only=True)</c> and safetensors.
/// </summary>
internal sealed class RestrictedUnpickler
{
    public const int MaxNesting = 32;
    private const int MaxTensorRank = 8;
    private const int MaxNameLength = 256;

    private static readonly PyGlobal OrderedDict = new("collections", "OrderedDict");
    private static readonly PyGlobal RebuildTensor = new("torch._utils", "_rebuild_tensor_v2");
    private static readonly PyGlobal RebuildParameter = new("torch._utils", "_rebuild_parameter");
    private static readonly PyGlobal TorchSize = new("torch", "Size");

    private readonly byte[] _data;
    private readonly string _path;
    private readonly string _record;
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();
    private readonly Dictionary<string, TorchStorage> _storages = new(StringComparer.Ordinal);
    private int _pos;

    private RestrictedUnpickler(byte[] data, string path, string record)
    {
        _data = data;
        _path = path;
        _record = record;
    }

    /// <summary>The unpickled root value and every storage it refers to (by archive key).</summary>
    public static (object? Root, IReadOnlyDictionary<string, TorchStorage> Storages) Load(byte[] pickle, string path, string record)
    {
        var unpickler = new RestrictedUnpickler(pickle, path, record);
        object? root = unpickler.Run();
        return (root, unpickler._storages);
    }

    private InvalidDataFileException Fail(string problem) => new(_path, $"{_record}: {problem}");

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _data.Length) throw Fail("the pickle ends without its STOP opcode (truncated)");
            int at = _pos;
            byte op = _data[_pos++];
            switch (op)
            {
                case 0x80: // PROTO
                    int protocol = ReadByte();
                    if (protocol is < 2 or > 5) throw Fail($"pickle protocol {protocol} is not one torch.save writes");
                    break;
                case 0x95: Skip(8); break; // FRAME: a length hint only
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Fail($"malformed pickle: STOP with {_stack.Count} values on the stack");
                    if (_pos != _data.Length) throw Fail($"{_data.Length - _pos} bytes follow the pickle's STOP opcode");
                    return _stack[0];
                case (byte)'(': _marks.Push(_stack.Count); break; // MARK
                case (byte)'}': Push(new PyDict()); break; // EMPTY_DICT
                case (byte)']': Push(new PyList()); break; // EMPTY_LIST
                case (byte)')': Push(Tuple([])); break; // EMPTY_TUPLE
                case (byte)'t': Push(Tuple(PopToMark().ToArray())); break; // TUPLE
                case 0x85: Push(Tuple(PopN(1))); break; // TUPLE1
                case 0x86: Push(Tuple(PopN(2))); break; // TUPLE2
                case 0x87: Push(Tuple(PopN(3))); break; // TUPLE3
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case 0x8a: Push(ReadLong1()); break; // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': Push(ReadUtf8(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // BINUNICODE
                case 0x8c: Push(ReadUtf8(ReadByte())); break; // SHORT_BINUNICODE
                case (byte)'C': Push(Take(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': Push(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))).ToArray()); break; // BINBYTES
                case (byte)'q': Memo(ReadByte()); break; // BINPUT
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))); break; // LONG_BINPUT
                case 0x94: Memo(_memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte())); break; // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
                case (byte)'c': Push(ResolveGlobal(ReadLine(), ReadLine())); break; // GLOBAL
                case 0x93: // STACK_GLOBAL
                    var names = PopN(2);
                    if (names[0] is not string module || names[1] is not string name) throw Fail("malformed pickle: STACK_GLOBAL needs two strings");
                    Push(ResolveGlobal(module, name));
                    break;
                case (byte)'R': // REDUCE
                    var call = PopN(2);
                    if (call[1] is not PyTuple args) throw Fail("malformed pickle: REDUCE without an argument tuple");
                    Push(Call(call[0], args));
                    break;
                case (byte)'b': Build(PopN(1)[0]); break; // BUILD
                case (byte)'Q': Push(PersistentLoad(PopN(1)[0])); break; // BINPERSID
                case (byte)'s': // SETITEM
                    var kv = PopN(2);
                    SetItems(Peek(), kv);
                    break;
                case (byte)'u': // SETITEMS
                    var items = PopToMark();
                    SetItems(Peek(), items);
                    break;
                case (byte)'a': // APPEND
                    var item = PopN(1);
                    Append(Peek(), item);
                    break;
                case (byte)'e': // APPENDS
                    var appended = PopToMark();
                    Append(Peek(), appended);
                    break;
                default:
                    throw Fail($"pickle opcode 0x{op:x2} at byte {at} is not one a torch.save state dict uses; refusing the file");
            }
        }
    }

    private object? ResolveGlobal(string module, string name)
    {
        var g = new PyGlobal(module, name);
        bool allowed = g == OrderedDict || g == RebuildTensor || g == RebuildParameter || g == TorchSize
            || (module == "torch" && (TorchDTypes.StorageTypes.ContainsKey(name) || TorchDTypes.DTypeNames.Contains(name)));
        if (!allowed)
            throw Fail($"refusing global '{module}.{name}': only the PyTorch state-dict types are allowed (nothing was executed; the file may be malicious)");
        return g;
    }

    private object? Call(object? callable, PyTuple args)
    {
        var a = args.Items;
        if (callable is PyGlobal g && g == OrderedDict && a.Length == 0) return new PyDict();
        if (callable is PyGlobal s && s == TorchSize && a.Length == 1 && a[0] is PyTuple size) return size;
        if (callable is PyGlobal p && p == RebuildParameter && a.Length == 3 && a[0] is TorchTensor parameter) return parameter;
        if (callable is PyGlobal r && r == RebuildTensor && a.Length is 6 or 7) return RebuildTensorV2(a);
        throw Fail($"refusing the call {Describe(callable)}({a.Length} arguments): not a form torch.save writes for a state dict");
    }

    private TorchTensor RebuildTensorV2(object?[] a)
    {
        if (a[0] is not TorchStorage storage || a[1] is not long offset || a[2] is not PyTuple size || a[3] is not PyTuple stride)
            throw Fail("malformed tensor: _rebuild_tensor_v2 needs (storage, offset, size, stride, ...)");
        long[] sizes = Integers(size, "size"), strides = Integers(stride, "stride");
        if (sizes.Length != strides.Length) throw Fail($"malformed tensor: size has {sizes.Length} dimensions, stride {strides.Length}");
        if (sizes.Length > MaxTensorRank) throw Fail($"tensor of rank {sizes.Length}; at most {MaxTensorRank} is supported");
        if (offset < 0) throw Fail($"tensor in storage '{storage.Key}' has a negative storage offset {offset}");
        long elements = 1, lastIndex = offset;
        for (int d = 0; d < sizes.Length; d++)
        {
            if (sizes[d] < 0) throw Fail($"tensor in storage '{storage.Key}' has a negative size {sizes[d]}");
            if (strides[d] < 0) throw Fail($"tensor in storage '{storage.Key}' has a negative stride {strides[d]}");
            if (sizes[d] > 0 && elements > Array.MaxLength / sizes[d])
                throw Fail($"tensor in storage '{storage.Key}' declares shape [{string.Join(", ", sizes)}], more elements than can be held");
            elements *= sizes[d];
        }
        if (elements > 0)
        {
            if (offset >= storage.Numel) throw Fail($"tensor at offset {offset} starts past the end of storage '{storage.Key}', which has {storage.Numel} elements");
            for (int d = 0; d < sizes.Length; d++)
            {
                if (sizes[d] == 1) continue; // PyTorch leaves any stride on a dimension of size 1
                // lastIndex < Numel <= 2^31 and the term < 2^31 * 2^31, so the sum cannot overflow; past the storage it stops here.
                if (strides[d] > storage.Numel || (lastIndex += (sizes[d] - 1) * strides[d]) >= storage.Numel)
                    throw Fail($"tensor [{string.Join(", ", sizes)}] at offset {offset} with strides [{string.Join(", ", strides)}] reaches past " +
                               $"storage '{storage.Key}', which has {storage.Numel} elements");
            }
        }
        return new TorchTensor(storage, offset, sizes, strides);
    }

    private long[] Integers(PyTuple tuple, string what) =>
        tuple.Items.Select(v => v is long l ? l : throw Fail($"malformed tensor: {what} holds {Describe(v)}, not an integer")).ToArray();

    private TorchStorage PersistentLoad(object? pid)
    {
        if (pid is not PyTuple { Items: ["storage", PyGlobal type, string key, string, long numel] } || type.Module != "torch"
            || !TorchDTypes.StorageTypes.TryGetValue(type.Name, out var dtype))
            throw Fail($"refusing persistent id {Describe(pid)}: only ('storage', torch.<Type>Storage, key, location, numel) is allowed");
        if (numel < 0 || numel > Array.MaxLength) throw Fail($"storage '{key}' declares {numel} elements");
        if (key.Length is 0 or > MaxNameLength || key.Any(ch => !char.IsAsciiLetterOrDigit(ch) && ch != '_'))
            throw Fail($"storage key '{Truncate(key)}' is not a plain record name");
        var storage = new TorchStorage(key, dtype, numel);
        if (_storages.TryGetValue(key, out var known))
        {
            if (known != storage) throw Fail($"storage '{key}' is declared twice with different types or sizes");
            return known;
        }
        _storages[key] = storage;
        return storage;
    }

    private void Build(object? state)
    {
        // torch.save attaches `_metadata` (module versions) to a state dict's OrderedDict; it is not needed.
        if (Peek() is not PyDict || state is not (PyDict or null))
            throw Fail($"refusing BUILD of {Describe(Peek())} with {Describe(state)}: only a state dict's metadata may be set");
    }

    private void SetItems(object? target, IReadOnlyList<object?> items)
    {
        if (target is not PyDict dict) throw Fail($"malformed pickle: SETITEMS on {Describe(target)}");
        if (items.Count % 2 != 0) throw Fail("malformed pickle: SETITEMS with an odd number of values");
        for (int i = 0; i < items.Count; i += 2)
        {
            object key = items[i] is string or long ? items[i]! : throw Fail($"dict key {Describe(items[i])} is not a string or integer");
            dict.Set(key, items[i + 1]);
            dict.Depth = Math.Max(dict.Depth, DepthOf(items[i + 1]) + 1);
        }
    }

    private void Append(object? target, IReadOnlyList<object?> items)
    {
        if (target is not PyList list) throw Fail($"malformed pickle: APPEND on {Describe(target)}");
        foreach (var item in items)
        {
            list.Items.Add(item);
            list.Depth = Math.Max(list.Depth, DepthOf(item) + 1);
        }
    }

    private int DepthOf(object? value)
    {
        int depth = value switch
        {
            PyDict d => d.Depth,
            PyList l => l.Depth,
            PyTuple t => t.Depth,
            _ => 0,
        };
        if (depth > MaxNesting) throw Fail($"containers nested deeper than {MaxNesting} levels; a state dict is never that deep");
        return depth;
    }

    private void Push(object? value) => _stack.Add(value);

    private PyTuple Tuple(object?[] items)
    {
        var tuple = new PyTuple(items) { Depth = items.Length == 0 ? 0 : items.Max(DepthOf) + 1 };
        DepthOf(tuple);
        return tuple;
    }

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw Fail("malformed pickle: the stack is empty");

    private object?[] PopN(int n)
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count - n < floor) throw Fail("malformed pickle: an opcode needs more values than the stack holds");
        var values = _stack.GetRange(_stack.Count - n, n).ToArray();
        _stack.RemoveRange(_stack.Count - n, n);
        return values;
    }

    private List<object?> PopToMark()
    {
        if (_marks.Count == 0) throw Fail("malformed pickle: no MARK on the stack");
        int mark = _marks.Pop();
        var values = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return values;
    }

    private void Memo(long index)
    {
        if (index > _data.Length) throw Fail($"memo index {index} is out of range");
        _memo[index] = Peek();
    }

    private object? Recall(long index) => _memo.TryGetValue(index, out var v) ? v : throw Fail($"malformed pickle: memo entry {index} was never stored");

    private int ReadByte() => _pos < _data.Length ? _data[_pos++] : throw Fail("the pickle is truncated");

    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Fail($"the pickle declares {n} bytes at byte {_pos}, but only {_data.Length - _pos} remain");
        var span = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return span;
    }

    private void Skip(int n) => Take(n);

    private string ReadUtf8(long n)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(n)); }
        catch (DecoderFallbackException) { throw Fail("a string in the pickle is not valid UTF-8"); }
    }

    private long ReadLong1()
    {
        int n = ReadByte();
        if (n > 8) throw Fail($"an integer of {n} bytes; at most 8 are supported");
        var bytes = Take(n);
        long value = 0;
        for (int i = n - 1; i >= 0; i--) value = (value << 8) | bytes[i];
        if (n is > 0 and < 8 && (bytes[n - 1] & 0x80) != 0) value -= 1L << (8 * n);
        return value;
    }

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos, Math.Min(MaxNameLength, _data.Length - _pos));
        if (end < 0) throw Fail("a GLOBAL name is unterminated or longer than 256 bytes");
        string line = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return line;
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"'{Truncate(s)}'",
        long or double or bool => value.ToString()!,
        PyGlobal g => g.ToString(),
        PyTuple t => $"a tuple of {t.Items.Length}",
        PyList => "a list",
        PyDict => "a dict",
        TorchTensor => "a tensor",
        TorchStorage => "a storage",
        _ => value.GetType().Name,
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
