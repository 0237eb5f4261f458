using CatchUp.IO;
using CatchUp.Migration;
using CatchUp.Models;
using CatchUp.Tests.Cli;
using Xunit;
using static CatchUp.Tests.Migration.PthReaderTests;

namespace CatchUp.Tests.Migration;

/// <summary>
/// <c>catchup export</c>: the exported .pth files have exactly the layout the reference's own torch.save calls produce
/// (same keys, same order, same tensors as the fixtures PyTorch wrote), and import back to the same model. That PyTorch
/// loads them with weights_only=True and strict=True is checked by tests/golden/check_pth_migration.py.
/// </summary>
[Collection("Console")]
public class ExportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Tmp(string name) => Path.Combine(_dir, name);

    private string ImportFixture()
    {
        string run = Tmp("run");
        var (exit, _, err) = CliRunner.Run("import", "--pth", Pth("flow_model_30_ema.pth"), "--generators", Pth("generator_list_30_ema.pth"),
            "--encoder", Pth("forward_model_30_ema.pth"), "--model", Pth("reference_de.json"), "--encoder-model", Pth("reference_en.json"),
            "--shakedrop", "--out", run);
        Assert.True(exit == 0, err);
        return run;
    }

    [Fact]
    public void ExportedPthFilesMatchWhatTheReferenceSaves()
    {
        string run = ImportFixture(), exported = Tmp("exported");
        var (exit, stdout, err) = CliRunner.Run("export", "--format", "pth", "--run", run, "--out", exported);
        Assert.True(exit == 0, err);
        Assert.Equal(["config_de.json", "config_en.json", "flow_model_ema.pth", "forward_model_ema.pth", "generator_list_ema.pth"],
            Directory.GetFiles(exported).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains("flow_model_ema.pth", stdout);

        AssertSame(ReferenceCheckpoint.ReadFlow(Pth("flow_model_30_ema.pth")).Model, ReferenceCheckpoint.ReadFlow(Path.Combine(exported, "flow_model_ema.pth")).Model);
        var gens = ReferenceCheckpoint.ReadGenerators(Path.Combine(exported, "generator_list_ema.pth"));
        var expectedGens = ReferenceCheckpoint.ReadGenerators(Pth("generator_list_30_ema.pth"));
        Assert.Equal(2, gens.Count);
        for (int i = 0; i < 2; i++) AssertSame(expectedGens[i], gens[i]);
        AssertSame(ReferenceCheckpoint.ReadEncoder(Pth("forward_model_30_ema.pth")), ReferenceCheckpoint.ReadEncoder(Path.Combine(exported, "forward_model_ema.pth")));

        // The configs are in the reference's format and state the right parameter count (checked when they load).
        string configDe = File.ReadAllText(Path.Combine(exported, "config_de.json"));
        Assert.Contains("\"unet_type\": \"songunet\"", configDe);
        var warnings = new List<string>();
        var reloaded = SongUNetConfigJson.Parse(configDe, "config_de.json", ConfigRole.VelocityModel, warnings.Add);
        Assert.Empty(warnings);
        Assert.Equal(SongUNetConfig.Load(Pth("reference_de.json")) with { PriorShakedrop = true }, reloaded);
    }

    [Fact]
    public void ExportedFilesImportBackToTheSameRun()
    {
        string run = ImportFixture(), exported = Tmp("exported"), back = Tmp("back");
        Assert.Equal(0, CliRunner.Run("export", "--run", run, "--out", exported).Exit);
        var (exit, _, err) = CliRunner.Run("import", "--pth", Path.Combine(exported, "flow_model_ema.pth"), "--generators", Path.Combine(exported, "generator_list_ema.pth"),
            "--encoder", Path.Combine(exported, "forward_model_ema.pth"), "--model", Path.Combine(exported, "config_de.json"),
            "--encoder-model", Path.Combine(exported, "config_en.json"), "--out", back);
        Assert.True(exit == 0, err);
        var a = SafetensorsFile.Read(Path.Combine(run, "checkpoint.safetensors"));
        var b = SafetensorsFile.Read(Path.Combine(back, "checkpoint.safetensors"));
        Assert.Equal(a.Tensors.Keys.Order(StringComparer.Ordinal), b.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var key in a.Tensors.Keys) Assert.Equal(a.Get(key).Data, b.Get(key).Data);
        Assert.Equal(File.ReadAllText(Path.Combine(run, "config.json")), File.ReadAllText(Path.Combine(back, "config.json")));
    }

    [Fact]
    public void SafetensorsExportHoldsReferenceNamesWithHeadsAndBuffers()
    {
        string run = ImportFixture(), exported = Tmp("st");
        var (exit, _, err) = CliRunner.Run("export", "--format", "safetensors", "--run", run, "--out", exported);
        Assert.True(exit == 0, err);
        var flow = SafetensorsFile.Read(Path.Combine(exported, "flow_model_ema.safetensors"));
        var reference = ReferenceCheckpoint.ReadFlow(Pth("flow_model_30_ema.pth")).Model;
        var heads = ReferenceCheckpoint.ReadGenerators(Pth("generator_list_30_ema.pth"));
        var expected = reference.Keys.Concat(heads.SelectMany((g, i) => g.Keys.Select(k => $"heads.{i}.{k}"))).Order(StringComparer.Ordinal);
        Assert.Equal(expected, flow.Tensors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(reference.Tensors["dec.8x8_aux_conv.weight"].Data, flow.Get("dec.8x8_aux_conv.weight").Data);
        Assert.Equal(heads[1].Tensors["block.2.weight"].Data, flow.Get("heads.1.block.2.weight").Data);
        Assert.True(File.Exists(Path.Combine(exported, "forward_model_ema.safetensors")));
    }

    [Theory]
    [InlineData("pickle", "--format pickle")]
    [InlineData("pth", "not a run directory")]
    public void BadArgumentsFailWithoutWriting(string format, string problem)
    {
        var (exit, _, err) = CliRunner.Run("export", "--format", format, "--run", Tmp("missing"), "--out", Tmp("out"));
        Assert.Equal(1, exit);
        Assert.Contains(problem, err);
        Assert.False(Directory.Exists(Tmp("out")));
    }
}
