using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using CatchUp.IO;
using Xunit;

namespace CatchUp.Tests.IO;

public class SafetensorsRoundTripTests
{
    private static Dictionary<string, HostTensor> SampleTensors() => new()
    {
        ["enc.8x8_conv.weight"] = new HostTensor([2, 1, 3, 3], Enumerable.Range(0, 18).Select(i => i * 0.25f - 2f).ToArray()),
        ["a.bias"] = new HostTensor([3], [1f, float.NegativeInfinity, float.NaN]),
        ["scalar"] = new HostTensor([], [42.5f]),
        ["empty"] = new HostTensor([0, 3], []),
        ["map_layer0.weight"] = new HostTensor([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
    };

    [Fact]
    public void WriteThenReadReturnsTheSameTensorsAndMetadata()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        var tensors = SampleTensors();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["step"] = "1200", ["note"] = "üñí \"quoted\"" };

        SafetensorsFile.Write(path, tensors, metadata);
        SafetensorsFile file = SafetensorsFile.Read(path);

        Assert.Equal(path, file.Path);
        Assert.Equal(tensors.Keys.Order(), file.Tensors.Keys.Order());
        foreach ((string name, HostTensor expected) in tensors)
        {
            HostTensor actual = file.Tensors[name];
            Assert.Equal(expected.Shape, actual.Shape);
            // Bit-exact, NaN included.
            Assert.Equal(expected.Data.Select(BitConverter.SingleToInt32Bits), actual.Data.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal(metadata.OrderBy(p => p.Key), file.Metadata.OrderBy(p => p.Key));
        Assert.Equal(1, file.Get("scalar").Length);
        Assert.Equal(0, file.Get("empty").Length);
    }

    [Fact]
    public void WrittenLayoutIsSortedContiguousAndEightByteAligned()
    {
        using var dir = new TempDirectory();
        string path = dir.File("layout.safetensors");
        SafetensorsFile.Write(path, SampleTensors());

        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal(0, headerLength % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        Assert.StartsWith("{", header);
        Assert.Equal(header.TrimEnd(' ').Length, header.TrimEnd().Length);

        using var json = JsonDocument.Parse(header);
        var entries = json.RootElement.EnumerateObject().ToList();
        Assert.DoesNotContain(entries, e => e.Name == "__metadata__");
        Assert.Equal(entries.Select(e => e.Name).Order(StringComparer.Ordinal), entries.Select(e => e.Name));
        long offset = 0;
        foreach (JsonProperty entry in entries)
        {
            Assert.Equal("F32", entry.Value.GetProperty("dtype").GetString());
            long begin = entry.Value.GetProperty("data_offsets")[0].GetInt64();
            long end = entry.Value.GetProperty("data_offsets")[1].GetInt64();
            Assert.Equal(offset, begin);
            offset = end;
        }
        Assert.Equal(bytes.Length, 8 + headerLength + offset);
    }

    [Fact]
    public void ReadsFilesWithGapsUnsortedEntriesAndSharedEmptyOffsets()
    {
        using var dir = new TempDirectory();
        string path = dir.File("handmade.safetensors");
        const string header = """
            {"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},
             "e1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},
             "e2":{"dtype":"F16","shape":[2,0],"data_offsets":[4,4]},
             "a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "__metadata__":{}}
            """;
        File.WriteAllBytes(path, SafetensorsBytes.Build(header, SafetensorsBytes.F32(1f, 99f, 2f)));

        SafetensorsFile file = SafetensorsFile.Read(path);

        Assert.Equal([1f], file.Get("a").Data);
        Assert.Equal([2f], file.Get("b").Data);
        Assert.Equal([2, 0], file.Get("e2").Shape);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void MissingTensorIsReportedWithFileAndName()
    {
        using var dir = new TempDirectory();
        string path = dir.File("few.safetensors");
        SafetensorsFile.Write(path, [new("x", new HostTensor(2))]);

        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Read(path).Get("y"));
        Assert.Contains(path, e.Message);
        Assert.Contains("'y'", e.Message);
        Assert.Equal("y", e.TensorName);
    }

    [Fact]
    public void WriteRejectsBadArguments()
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        var mismatched = new HostTensor(2, 2);
        mismatched.Shape[0] = 3;

        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [new("", new HostTensor(1))]));
        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [new("__metadata__", new HostTensor(1))]));
        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [new("a", new HostTensor(1)), new("a", new HostTensor(1))]));
        Assert.Throws<ArgumentException>(() => SafetensorsFile.Write(path, [new("m", mismatched)]));
        Assert.Empty(dir.FileNames());
    }

    [Fact]
    public void HostTensorValidatesShapeAndDescribesItself()
    {
        Assert.Throws<ArgumentException>(() => new HostTensor([2, 3], new float[5]));
        Assert.Throws<ArgumentException>(() => new HostTensor(-1));
        Assert.Throws<ArgumentException>(() => new HostTensor([65536, 65536], []));
        Assert.Equal("HostTensor[2, 3] (6 elements: 0, 1, 2, 3, ...)", new HostTensor([2, 3], [0, 1, 2, 3, 4, 5]).ToString());
        Assert.Equal("HostTensor[] (1 elements: 7.5)", new HostTensor([], [7.5f]).ToString());
        Assert.Equal("HostTensor[0] (empty)", new HostTensor(0).ToString());
    }
}
