using CatchUp.IO;
using Xunit;

namespace CatchUp.Tests.IO;

public class SafetensorsDTypeTests
{
    private static float[] ReadSingle(string dtype, int count, byte[] data)
    {
        using var dir = new TempDirectory();
        string path = dir.File("t.safetensors");
        string header = $$$"""{"t":{"dtype":"{{{dtype}}}","shape":[{{{count}}}],"data_offsets":[0,{{{data.Length}}}]}}""";
        File.WriteAllBytes(path, SafetensorsBytes.Build(header, data));
        return SafetensorsFile.Read(path).Get("t").Data;
    }

    [Fact]
    public void DecodesF16BitPatterns()
    {
        ushort[] bits = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555, 0x8000, 0x7C00, 0xFC00];
        float[] expected = [1f, -2f, 65504f, MathF.Pow(2, -24), 0.33325195f, -0f, float.PositiveInfinity, float.NegativeInfinity];

        float[] actual = ReadSingle("F16", bits.Length, SafetensorsBytes.U16(bits));

        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
        Assert.True(float.IsNaN(ReadSingle("F16", 1, SafetensorsBytes.U16(0x7E00))[0]));
    }

    [Fact]
    public void DecodesBF16BitPatterns()
    {
        ushort[] bits = [0x3F80, 0xC0A0, 0x4049, 0x0001, 0x7F80, 0x8000];
        float[] expected = [1f, -5f, 3.140625f, BitConverter.Int32BitsToSingle(0x10000), float.PositiveInfinity, -0f];

        float[] actual = ReadSingle("BF16", bits.Length, SafetensorsBytes.U16(bits));

        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void DecodesF64ByRoundingToFloat()
    {
        double[] values = [1.5, -0.1, 1e300, 1e-300, Math.PI];
        float[] expected = [1.5f, -0.1f, float.PositiveInfinity, 0f, MathF.PI];

        Assert.Equal(expected, ReadSingle("F64", values.Length, SafetensorsBytes.F64(values)));
    }

    [Fact]
    public void ConvertsTensorsLargerThanOneConversionChunk()
    {
        const int count = 600_000; // 1.2 MB of F16, more than the 1 MB conversion chunk
        var bits = new ushort[count];
        for (int i = 0; i < count; i++) bits[i] = (ushort)(i % 2048); // small subnormal/normal values, all finite

        float[] actual = ReadSingle("F16", count, SafetensorsBytes.U16(bits));

        for (int i = 0; i < count; i += 997)
            Assert.Equal((float)BitConverter.UInt16BitsToHalf(bits[i]), actual[i]);
        Assert.Equal((float)BitConverter.UInt16BitsToHalf(bits[count - 1]), actual[count - 1]);
    }

    [Fact]
    public void MixedDTypesInOneFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("mixed.safetensors");
        const string header = """
            {"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},
             "b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},
             "d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},
             "f":{"dtype":"F32","shape":[1,1],"data_offsets":[16,20]}}
            """;
        byte[] data = [.. SafetensorsBytes.U16(0x3C00, 0x4000), .. SafetensorsBytes.U16(0x4040, 0xBF80), .. SafetensorsBytes.F64(0.5), .. SafetensorsBytes.F32(-7f)];
        File.WriteAllBytes(path, SafetensorsBytes.Build(header, data));

        SafetensorsFile file = SafetensorsFile.Read(path);

        Assert.Equal([1f, 2f], file.Get("h").Data);
        Assert.Equal([3f, -1f], file.Get("b").Data);
        Assert.Equal([0.5f], file.Get("d").Data);
        Assert.Equal([-7f], file.Get("f").Data);
    }
}
