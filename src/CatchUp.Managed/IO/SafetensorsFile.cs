using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CatchUp.IO;

/// <summary>
/// A safetensors file loaded into host memory (https://huggingface.co/docs/safetensors):
/// an 8-byte little-endian header length, a JSON header, then the raw tensor bytes.
/// Reading accepts F32, F16, BF16 and F64 and converts everything to float32; writing always produces F32.
/// </summary>
public sealed class SafetensorsFile
{
    /// <summary>Headers larger than this are rejected as corrupt rather than read.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private const int ConversionChunkBytes = 1 << 20;

    private SafetensorsFile(string path, IReadOnlyDictionary<string, HostTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        Tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }
    public IReadOnlyDictionary<string, HostTensor> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The named tensor; a missing one is reported as a problem with this file.</summary>
    public HostTensor Get(string name) =>
        Tensors.TryGetValue(name, out HostTensor? tensor)
            ? tensor
            : throw new SafetensorsException(Path, "no such tensor in the file", name);

    /// <summary>Loads and validates a whole file. Every failure, including a missing file, is a <see cref="SafetensorsException"/>.</summary>
    public static SafetensorsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
            throw new SafetensorsException(path, "is a directory, not a safetensors file");
        if (!File.Exists(path))
            throw new SafetensorsException(path, "file not found");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            return Read(path, stream);
        }
        catch (EndOfStreamException e)
        {
            throw new SafetensorsException(path, "file ended early (was it truncated while being read?)", innerException: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SafetensorsException(path, $"cannot read file: {e.Message}", innerException: e);
        }
    }

    private static SafetensorsFile Read(string path, FileStream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new SafetensorsException(path, $"file is {fileLength} bytes, too short for the 8-byte header length");

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - 8))
            throw new SafetensorsException(path, $"header length {headerLength} exceeds the {fileLength - 8} bytes after the length prefix (file truncated or not a safetensors file)");
        if (headerLength > MaxHeaderBytes)
            throw new SafetensorsException(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");

        var headerBytes = new byte[(int)headerLength];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLength;
        var header = SafetensorsHeader.Parse(path, headerBytes, fileLength - dataStart);

        var tensors = new Dictionary<string, HostTensor>(header.Entries.Count, StringComparer.Ordinal);
        byte[]? chunk = null;
        try
        {
            foreach (SafetensorsEntry entry in header.Entries)
            {
                var data = new float[entry.ElementCount];
                stream.Seek(dataStart + entry.Begin, SeekOrigin.Begin);
                if (entry.DType == SafetensorsDType.F32 && BitConverter.IsLittleEndian)
                {
                    stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
                }
                else
                {
                    chunk ??= ArrayPool<byte>.Shared.Rent(ConversionChunkBytes);
                    ReadConverted(stream, entry.DType, data, chunk);
                }
                tensors.Add(entry.Name, new HostTensor(entry.Shape, data) { DType = entry.DType == SafetensorsDType.I64 ? "I64" : "F32" });
            }
        }
        finally
        {
            if (chunk is not null) ArrayPool<byte>.Shared.Return(chunk);
        }
        return new SafetensorsFile(path, tensors, header.Metadata);
    }

    private static void ReadConverted(Stream stream, SafetensorsDType dtype, float[] destination, byte[] chunk)
    {
        int size = dtype.Size();
        int elementsPerChunk = ConversionChunkBytes / size;
        for (int done = 0; done < destination.Length; done += elementsPerChunk)
        {
            int count = Math.Min(elementsPerChunk, destination.Length - done);
            Span<byte> bytes = chunk.AsSpan(0, count * size);
            stream.ReadExactly(bytes);
            SafetensorsDTypes.Decode(dtype, bytes, destination.AsSpan(done, count));
        }
    }

    /// <summary>
    /// Writes float32 tensors (int64 for <see cref="HostTensor.IsInteger"/> ones) sorted by name, replacing <paramref name="path"/> atomically: a reader sees either the previous
    /// file or the complete new one, and a failed write leaves the previous file untouched.
    /// Invalid arguments throw <see cref="ArgumentException"/>; I/O failures propagate as <see cref="IOException"/>.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, HostTensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);

        var sorted = new SortedDictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach ((string name, HostTensor tensor) in tensors)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("tensor names must be non-empty", nameof(tensors));
            if (name == SafetensorsHeader.MetadataKey) throw new ArgumentException($"'{name}' is reserved and cannot be a tensor name", nameof(tensors));
            if (tensor is null) throw new ArgumentException($"tensor '{name}' is null", nameof(tensors));
            // Shape and Data are mutable arrays, so re-check that they still agree.
            if (HostTensor.ElementCount(tensor.Shape) != tensor.Data.Length)
                throw new ArgumentException($"tensor '{name}' has shape {HostTensor.FormatShape(tensor.Shape)} but {tensor.Data.Length} elements", nameof(tensors));
            if (tensor.IsInteger && tensor.Data.Any(v => v != MathF.Round(v) || Math.Abs(v) > SafetensorsDTypes.MaxExactInteger))
                throw new ArgumentException($"integer tensor '{name}' holds a non-integer or too large value", nameof(tensors));
            if (tensor.DType is not ("F32" or "I64")) throw new ArgumentException($"tensor '{name}': cannot write dtype {tensor.DType}", nameof(tensors));
            if (!sorted.TryAdd(name, tensor)) throw new ArgumentException($"duplicate tensor name '{name}'", nameof(tensors));
        }

        byte[] header = BuildHeader(sorted, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (HostTensor tensor in sorted.Values)
            {
                if (tensor.IsInteger) SafetensorsDTypes.WriteI64(stream, tensor.Data);
                else SafetensorsDTypes.WriteF32(stream, tensor.Data);
            }
        });
    }

    /// <summary>The JSON header, padded with spaces so the data section starts 8-byte aligned.</summary>
    private static byte[] BuildHeader(SortedDictionary<string, HostTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps names such as "a+b" readable in the file; quotes and control characters are still escaped.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach ((string key, string value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    ArgumentNullException.ThrowIfNull(key, nameof(metadata));
                    json.WriteString(key, value ?? throw new ArgumentException($"metadata value for '{key}' is null", nameof(metadata)));
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach ((string name, HostTensor tensor) in tensors)
            {
                long end = offset + (tensor.IsInteger ? 8L : 4L) * tensor.Data.Length;
                json.WriteStartObject(name);
                json.WriteString("dtype", tensor.DType);
                json.WriteStartArray("shape");
                foreach (int d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
