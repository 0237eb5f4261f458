using System.Text.Json;
using System.Text.Unicode;

namespace CatchUp.IO;

/// <summary>One tensor's header entry, validated against the size of the data section.</summary>
internal sealed record SafetensorsEntry(string Name, SafetensorsDType DType, int[] Shape, int ElementCount, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// The parsed and fully validated JSON header of a safetensors file. Nothing here trusts the file:
/// every size is checked against the actual length of the data section before anything is allocated from it.
/// </summary>
internal sealed class SafetensorsHeader
{
    public const string MetadataKey = "__metadata__";

    private SafetensorsHeader(IReadOnlyList<SafetensorsEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        Entries = entries;
        Metadata = metadata;
    }

    /// <summary>Entries in data-offset order.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafetensorsHeader Parse(string filePath, ReadOnlyMemory<byte> json, long dataLength)
    {
        if (!Utf8.IsValid(json.Span))
            throw new SafetensorsException(filePath, "header is not valid UTF-8");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(filePath, $"header is not valid JSON ({e.Message})", innerException: e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException(filePath, $"header must be a JSON object, found {JsonText.Describe(root.ValueKind)}");

            var entries = new List<SafetensorsEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    string what = property.Name == MetadataKey ? $"'{MetadataKey}' appears" : $"tensor '{property.Name}' appears";
                    throw new SafetensorsException(filePath, $"duplicate key in header: {what} more than once");
                }
                if (property.Name == MetadataKey)
                {
                    ParseMetadata(filePath, property.Value, metadata);
                }
                else
                {
                    entries.Add(ParseEntry(filePath, property.Name, property.Value, dataLength));
                }
            }

            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            CheckNoOverlap(filePath, entries);
            return new SafetensorsHeader(entries, metadata);
        }
    }

    private static void ParseMetadata(string filePath, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException(filePath, $"'{MetadataKey}' must be an object of strings, found {JsonText.Describe(value.ValueKind)}");
        foreach (JsonProperty item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsException(filePath, $"'{MetadataKey}' value for '{item.Name}' must be a string, found {JsonText.Describe(item.Value.ValueKind)}");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw new SafetensorsException(filePath, $"duplicate key in '{MetadataKey}': '{item.Name}' appears more than once");
        }
    }

    private static SafetensorsEntry ParseEntry(string filePath, string name, JsonElement value, long dataLength)
    {
        SafetensorsException Fail(string problem) => new(filePath, problem, name);

        if (name.Length == 0)
            throw new SafetensorsException(filePath, "header has a tensor with an empty name");
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail($"entry must be an object with dtype, shape and data_offsets, found {JsonText.Describe(value.ValueKind)}");

        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (JsonProperty field in value.EnumerateObject())
        {
            if (field.Name is not ("dtype" or "shape" or "data_offsets"))
                throw Fail($"unknown field '{field.Name}' (expected dtype, shape, data_offsets)");
            if (!fields.TryAdd(field.Name, field.Value))
                throw Fail($"duplicate field '{field.Name}'");
        }
        if (!fields.TryGetValue("dtype", out JsonElement dtypeJson)) throw Fail("missing field 'dtype'");
        if (!fields.TryGetValue("shape", out JsonElement shapeJson)) throw Fail("missing field 'shape'");
        if (!fields.TryGetValue("data_offsets", out JsonElement offsetsJson)) throw Fail("missing field 'data_offsets'");

        if (dtypeJson.ValueKind != JsonValueKind.String)
            throw Fail($"'dtype' must be a string, found {JsonText.Describe(dtypeJson.ValueKind)}");
        string dtypeName = dtypeJson.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out SafetensorsDType dtype))
            throw Fail($"unsupported dtype '{dtypeName}' (supported: {SafetensorsDTypes.Supported})");

        int[] shape = ParseShape(shapeJson, Fail);
        int elementCount;
        try
        {
            elementCount = HostTensor.ElementCount(shape);
        }
        catch (ArgumentException)
        {
            throw Fail($"shape {HostTensor.FormatShape(shape)} has more elements than an array can hold");
        }

        if (offsetsJson.ValueKind != JsonValueKind.Array || offsetsJson.GetArrayLength() != 2)
            throw Fail("'data_offsets' must be an array of two non-negative integers [begin, end]");
        long begin = ParseOffset(offsetsJson[0], "begin", Fail);
        long end = ParseOffset(offsetsJson[1], "end", Fail);
        if (begin > end)
            throw Fail($"data_offsets begin {begin} is greater than end {end}");
        if (end > dataLength)
            throw Fail($"data_offsets end {end} is beyond the data section ({dataLength} bytes): the file is truncated or the header is wrong");
        long expectedBytes = (long)elementCount * dtype.Size();
        if (end - begin != expectedBytes)
            throw Fail($"data_offsets cover {end - begin} bytes but shape {HostTensor.FormatShape(shape)} of {dtypeName} needs {expectedBytes}");

        return new SafetensorsEntry(name, dtype, shape, elementCount, begin, end);
    }

    private static int[] ParseShape(JsonElement json, Func<string, SafetensorsException> fail)
    {
        if (json.ValueKind != JsonValueKind.Array)
            throw fail($"'shape' must be an array of non-negative integers, found {JsonText.Describe(json.ValueKind)}");
        var shape = new int[json.GetArrayLength()];
        int i = 0;
        foreach (JsonElement dim in json.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d))
                throw fail($"'shape' must be an array of non-negative integers, element {i} is {JsonText.Show(dim)}");
            if (d < 0)
                throw fail($"'shape' has a negative dimension {d}");
            if (d > Array.MaxLength)
                throw fail($"'shape' dimension {d} is larger than an array can hold");
            shape[i++] = (int)d;
        }
        return shape;
    }

    private static long ParseOffset(JsonElement json, string which, Func<string, SafetensorsException> fail)
    {
        if (json.ValueKind != JsonValueKind.Number || !json.TryGetInt64(out long offset) || offset < 0)
            throw fail($"data_offsets {which} must be a non-negative integer, found {JsonText.Show(json)}");
        return offset;
    }

    /// <summary>Entries must be sorted by begin. Empty tensors occupy no bytes and cannot overlap anything.</summary>
    private static void CheckNoOverlap(string filePath, List<SafetensorsEntry> sorted)
    {
        SafetensorsEntry? previous = null;
        foreach (SafetensorsEntry entry in sorted)
        {
            if (entry.ByteLength == 0) continue;
            if (previous is not null && entry.Begin < previous.End)
                throw new SafetensorsException(filePath,
                    $"data range [{entry.Begin}, {entry.End}) overlaps tensor '{previous.Name}' at [{previous.Begin}, {previous.End})", entry.Name);
            previous = entry;
        }
    }
}
