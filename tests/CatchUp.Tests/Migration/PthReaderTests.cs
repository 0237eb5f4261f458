using CatchUp.IO;
using CatchUp.Migration;
using CatchUp.Tests.IO;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Migration;

/// <summary>The .pth reader and writer against files written by PyTorch's torch.save (tests/golden/make_pth_golden.py).</summary>
public class PthReaderTests
{
    internal static string Pth(string name) => Golden(Path.Combine("pth", name));

    [Fact]
    public void ViewsAndDTypesAreReadAsRowMajorFloat32()
    {
        var file = PthFile.Read(Pth("views.pth"));
        var root = Assert.IsType<PyDict>(file.Root);
        Assert.Equal(["contiguous", "transposed", "offset", "broadcast", "float16", "bfloat16", "float64", "scalar", "size_one_stride"],
            root.Items.Select(kv => (string)kv.Key));
        foreach (var name in new[] { "contiguous", "transposed", "offset", "float16", "bfloat16", "float64" })
        {
            var t = file.ToHost((TorchTensor)root[name]!, name);
            Assert.Equal([3, 4], t.Shape);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++)
                    Assert.True(t.Data[i * 4 + j] == 10 * i + j, $"{name}[{i},{j}] = {t.Data[i * 4 + j]}");
        }
        var broadcast = file.ToHost((TorchTensor)root["broadcast"]!, "broadcast");
        Assert.Equal(Enumerable.Range(0, 12).Select(k => (float)(k % 4)), broadcast.Data);
        Assert.Equal([0L, 1L], ((TorchTensor)root["broadcast"]!).Stride);
        var scalar = file.ToHost((TorchTensor)root["scalar"]!, "scalar");
        Assert.Empty(scalar.Shape);
        Assert.Equal([7f], scalar.Data);
        var sizeOne = file.ToHost((TorchTensor)root["size_one_stride"]!, "size_one_stride");
        Assert.Equal([1, 4], sizeOne.Shape);
        Assert.Equal([0f, 1f, 2f, 3f], sizeOne.Data);
    }

    [Fact]
    public void WrapperPrefixesAreRemovedAndTheSameWeightsReadFromEverySaveLayout()
    {
        var ema = ReferenceCheckpoint.ReadFlow(Pth("flow_model_30_ema.pth"));
        var raw = ReferenceCheckpoint.ReadFlow(Pth("flow_model_30.pth")); // keys 'module.*'
        var state = ReferenceCheckpoint.ReadFlow(Pth("training_state_30.pth")); // keys '_orig_mod.*'
        Assert.Equal("map_layer0.weight", ema.Model.Keys[0]);
        Assert.Contains("enc.4x4_down.conv0.resample_filter", ema.Model.Keys);
        Assert.Equal(ema.Model.Keys, raw.Model.Keys);
        Assert.Equal(ema.Model.Keys, state.Model.Keys);
        AssertSame(raw.Model, state.Model);
        AssertSame(ema.Model, state.Ema!);
        Assert.NotEqual(raw.Model.Tensors["map_layer0.weight"].Data, ema.Model.Tensors["map_layer0.weight"].Data);
        Assert.Equal(30, state.Iteration);
        Assert.Equal(2, state.Generators.Count);
        Assert.Equal(["block.0.weight", "block.0.bias", "block.2.weight", "block.2.bias"], state.Generators[0].Keys);
        Assert.Equal(30, state.Adam!.Steps);
        Assert.Equal(3e-3, state.Adam.LearningRate, 9);

        var encoder = ReferenceCheckpoint.ReadEncoder(Pth("forward_model_30_ema.pth"));
        Assert.Equal("map_layer0.weight", encoder.Keys[0]);
        AssertSame(encoder, state.Encoder!);
        var generators = ReferenceCheckpoint.ReadGenerators(Pth("generator_list_30_ema.pth")); // keys 'module.*'
        Assert.Equal(state.Generators[1].Keys, generators[1].Keys);
    }

    [Theory]
    [InlineData("module.dec.8x8_aux_conv.weight", "dec.8x8_aux_conv.weight")]
    [InlineData("_orig_mod.map_layer0.bias", "map_layer0.bias")]
    [InlineData("module._orig_mod.enc.8x8_conv.weight", "enc.8x8_conv.weight")]
    [InlineData("enc.module.x", "enc.module.x")]
    public void StripsTheReferencesWrapperPrefixes(string key, string expected) =>
        Assert.Equal(expected, ReferenceCheckpoint.StripWrapperPrefixes(key));

    [Fact]
    public void WriterRoundTripsStateDictsAndListsExactly()
    {
        using var dir = new TempDirectory();
        var rng = new Random(4);
        HostTensor Random(params int[] shape) => new(shape, Enumerable.Range(0, HostTensor.ElementCount(shape)).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray());
        var a = new List<KeyValuePair<string, HostTensor>> { new("w", Random(3, 2, 3, 3)), new("b", Random(3)), new("s", Random()), new("e", Random(0, 4)) };
        var b = new List<KeyValuePair<string, HostTensor>> { new("block.0.weight", Random(5)) };
        PthWriter.WriteStateDict(dir.File("one.pth"), a);
        PthWriter.WriteStateDictList(dir.File("list.pth"), [a, b]);

        var one = PthFile.Read(dir.File("one.pth"));
        AssertDict(one, one.Root, a);
        var list = PthFile.Read(dir.File("list.pth"));
        var items = Assert.IsType<PyList>(list.Root).Items;
        Assert.Equal(2, items.Count);
        AssertDict(list, items[0], a);
        AssertDict(list, items[1], b);
        Assert.Equal(["list.pth", "one.pth"], dir.FileNames());
    }

    private static void AssertDict(PthFile file, object? value, List<KeyValuePair<string, HostTensor>> expected)
    {
        var dict = Assert.IsType<PyDict>(value);
        Assert.Equal(expected.Select(kv => kv.Key), dict.Items.Select(kv => (string)kv.Key));
        foreach (var (key, tensor) in expected)
        {
            var read = file.ToHost((TorchTensor)dict[key]!, key);
            Assert.Equal(tensor.Shape, read.Shape);
            Assert.Equal(tensor.Data, read.Data);
        }
    }

    internal static void AssertSame(ReferenceStateDict a, ReferenceStateDict b)
    {
        Assert.Equal(a.Keys, b.Keys);
        foreach (var key in a.Keys)
        {
            Assert.Equal(a.Tensors[key].Shape, b.Tensors[key].Shape);
            Assert.Equal(a.Tensors[key].Data, b.Tensors[key].Data);
        }
    }
}
