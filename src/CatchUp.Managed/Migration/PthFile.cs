using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using CatchUp.IO;

namespace CatchUp.Migration;

/// <summary>
/// A PyTorch <c>.pth</c> file in the zip format <c>torch.save</c> has written since PyTorch 1.6: <c>NAME/data.pkl</c>
/// (the pickled object), <c>NAME/data/KEY</c> (one raw record per storage), <c>NAME/byteorder</c>, <c>NAME/version</c>.
/// The pickle goes through <see cref="RestrictedUnpickler"/>; sizes are checked against the file before anything is
/// allocated. Legacy (non-zip) files are refused. Every problem is an <see cref="InvalidDataFileException"/> naming the file.
/// </summary>
internal sealed class PthFile
{
    public const long MaxPickleBytes = 64L << 20;

    private readonly IReadOnlyDictionary<string, byte[]> _storageBytes;

    private PthFile(string path, object? root, IReadOnlyDictionary<string, byte[]> storageBytes)
    {
        Path = path;
        Root = root;
        _storageBytes = storageBytes;
    }

    public string Path { get; }

    /// <summary>The unpickled object: dicts, lists, tuples, primitives and <see cref="TorchTensor"/> views.</summary>
    public object? Root { get; }

    public static PthFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path)) throw new InvalidDataFileException(path, "is a directory, not a .pth file");
        if (!File.Exists(path)) throw new InvalidDataFileException(path, "file not found");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            CheckMagic(path, stream);
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false, entryNameEncoding: Encoding.UTF8);
            return Read(path, zip, stream.Length);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataFileException(path, $"broken zip archive ({e.Message}); the file is truncated or corrupt", e);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataFileException(path, "the archive ends early (truncated file)", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataFileException(path, $"cannot read file: {e.Message}", e);
        }
    }

    private static void CheckMagic(string path, FileStream stream)
    {
        Span<byte> head = stackalloc byte[4];
        int n = stream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        stream.Position = 0;
        if (n == 4 && head.SequenceEqual("PK\u0003\u0004"u8)) return;
        if (n >= 1 && head[0] == 0x80)
            throw new InvalidDataFileException(path, "a legacy (non-zip) PyTorch file, written before PyTorch 1.6 or with _use_new_zipfile_serialization=False; " +
                "only the zip format is read. Re-save it with a recent PyTorch: torch.save(torch.load(f, weights_only=True), f)");
        throw new InvalidDataFileException(path, "not a PyTorch .pth file (no zip archive signature)");
    }

    private static PthFile Read(string path, ZipArchive zip, long fileLength)
    {
        var entries = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
        foreach (var entry in zip.Entries)
        {
            if (entry.Length != entry.CompressedLength)
                throw new InvalidDataFileException(path, $"record '{entry.FullName}' is compressed ({entry.CompressedLength} bytes declared to expand to {entry.Length}); torch.save stores records uncompressed");
            if (entry.Length > fileLength)
                throw new InvalidDataFileException(path, $"record '{entry.FullName}' declares {entry.Length} bytes, more than the whole file");
            if (!entries.TryAdd(entry.FullName, entry)) throw new InvalidDataFileException(path, $"record '{entry.FullName}' appears twice");
        }
        var pickles = entries.Keys.Where(k => k.EndsWith("/data.pkl", StringComparison.Ordinal) && k.IndexOf('/') == k.Length - 9).ToList();
        if (entries.Keys.Any(k => k.EndsWith("/constants.pkl", StringComparison.Ordinal)))
            throw new InvalidDataFileException(path, "a TorchScript archive (torch.jit.save), not a torch.save state dict");
        if (pickles.Count != 1)
            throw new InvalidDataFileException(path, pickles.Count == 0 ? "no NAME/data.pkl record: not a torch.save archive" : "more than one NAME/data.pkl record");
        string prefix = pickles[0][..^"data.pkl".Length];
        if (entries.Keys.FirstOrDefault(k => !k.StartsWith(prefix, StringComparison.Ordinal)) is { } stray)
            throw new InvalidDataFileException(path, $"record '{stray}' lies outside the archive's '{prefix}' folder");
        if (entries.TryGetValue(prefix + "byteorder", out var order) && ReadRecord(path, order, 16) is var b && Encoding.ASCII.GetString(b) != "little")
            throw new InvalidDataFileException(path, $"byte order '{Encoding.ASCII.GetString(b)}'; only little-endian files are supported");

        var pickleEntry = entries[pickles[0]];
        if (pickleEntry.Length > MaxPickleBytes)
            throw new InvalidDataFileException(path, $"data.pkl is {pickleEntry.Length} bytes, over the {MaxPickleBytes}-byte limit for a state dict");
        var (root, storages) = RestrictedUnpickler.Load(ReadRecord(path, pickleEntry, MaxPickleBytes), path, pickles[0]);

        var bytes = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var storage in storages.Values)
        {
            string record = prefix + "data/" + storage.Key;
            if (!entries.TryGetValue(record, out var entry)) throw new InvalidDataFileException(path, $"storage record '{record}' is missing");
            long needed = storage.Numel * storage.DType.Size();
            if (entry.Length != needed)
                throw new InvalidDataFileException(path, $"storage record '{record}' holds {entry.Length} bytes; its {storage.Numel} {storage.DType.TorchName()} elements need {needed}");
            bytes[storage.Key] = ReadRecord(path, entry, needed);
        }
        return new PthFile(path, root, bytes);
    }

    private static byte[] ReadRecord(string path, ZipArchiveEntry entry, long limit)
    {
        if (entry.Length > Math.Min(limit, Array.MaxLength))
            throw new InvalidDataFileException(path, $"record '{entry.FullName}' is {entry.Length} bytes, over its {Math.Min(limit, Array.MaxLength)}-byte limit");
        var data = new byte[entry.Length];
        using var s = entry.Open();
        s.ReadExactly(data);
        return data;
    }

    /// <summary>The tensor as float32 in row-major order; <paramref name="name"/> names it in errors.</summary>
    public HostTensor ToHost(TorchTensor tensor, string name)
    {
        var storage = tensor.Storage;
        if (!storage.DType.IsFloatingPoint())
            throw new InvalidDataFileException(Path, $"tensor '{name}' is {storage.DType.TorchName()}; weights must be floating point");
        byte[] bytes = _storageBytes[storage.Key];
        int rank = tensor.Size.Length;
        var shape = tensor.Size.Select(d => d <= int.MaxValue ? (int)d : throw new InvalidDataFileException(Path, $"tensor '{name}' has a dimension of {d}")).ToArray();
        var data = new float[HostTensor.ElementCount(shape)];
        var index = new long[rank];
        long source = tensor.Offset;
        int size = storage.DType.Size();
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = Decode(storage.DType, bytes.AsSpan((int)(source * size), size));
            for (int d = rank - 1; d >= 0; d--)
            {
                source += tensor.Stride[d];
                if (++index[d] < tensor.Size[d]) break;
                source -= tensor.Stride[d] * index[d];
                index[d] = 0;
            }
        }
        return new HostTensor(shape, data);
    }

    private static float Decode(TorchDType dtype, ReadOnlySpan<byte> b) => dtype switch
    {
        TorchDType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(b),
        TorchDType.Float64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
        TorchDType.Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
        _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
    };
}
