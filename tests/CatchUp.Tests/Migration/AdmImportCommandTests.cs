using System.Text.Json.Nodes;
using CatchUp.Backends.Cpu;
using CatchUp.IO;
using CatchUp.Migration;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Tests.Cli;
using CatchUp.Training;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Migration;

/// <summary>
/// <c>catchup import</c> / <c>export</c> for the ADM network and the files the ADM reference's <c>cm/train_util.py</c>
/// saves (<c>model{step:06d}.pt</c>, <c>ema_{rate}_{step:06d}.pt</c>). The weights are those of tests/golden/adm_cond_*
/// (written from our PyTorch port's <c>state_dict()</c>, so the names are the reference's), saved here as .pt files.
/// </summary>
[Collection("Console")]
public class AdmImportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-adm-import-").FullName;
    private static readonly string Config = Golden("adm_cond.json");
    private static readonly SafetensorsFile Weights = SafetensorsFile.Read(Golden("adm_cond_weights.safetensors"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Tmp(string name) => Path.Combine(_dir, name);

    /// <summary>The golden weights times <paramref name="scale"/>, keys in the order given, as a torch.save'd .pt file.</summary>
    private string WritePt(string name, float scale = 1f, string prefix = "", Func<string, bool>? float16 = null,
        Func<IEnumerable<KeyValuePair<string, HostTensor>>, IEnumerable<KeyValuePair<string, HostTensor>>>? edit = null)
    {
        var tensors = Weights.Tensors.Select(kv => KeyValuePair.Create(kv.Key, new HostTensor(kv.Value.Shape, kv.Value.Data.Select(v => v * scale).ToArray())));
        var entries = (edit ?? (t => t))(tensors).Select(kv => KeyValuePair.Create(prefix + kv.Key, kv.Value)).ToList();
        string path = Tmp(name);
        PthWriter.WriteStateDict(path, entries, float16 is null ? null : k => float16(k[prefix.Length..]));
        return path;
    }

    private static Dictionary<string, float[]> Section(SafetensorsFile file, string prefix) => file.Tensors
        .Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value.Data);

    private static bool IsHalf(string key) => key.StartsWith("input_blocks.", StringComparison.Ordinal) && key.EndsWith(".weight", StringComparison.Ordinal);

    private string ImportWithTwoEmas(string run)
    {
        string model = WritePt("model000123.pt", prefix: "module.", float16: IsHalf);
        string slow = WritePt("ema_0.9999_000123.pt", scale: 0.25f), fast = WritePt("ema_0.999_000123.pt", scale: 0.5f);
        var (exit, stdout, stderr) = CliRunner.Run("import", "--pth", model, "--ema", slow, "--ema", fast, "--model", Config, "--out", run);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("iteration 123, EMA 0.999 -> ema.*, 0.9999 -> ema_0.9999.*, Adam moments zero", stdout);
        Assert.Contains("tensor(s) stored as float16", stdout);
        return run;
    }

    [Fact]
    public void ModelAndEmaFilesLandAsModelEmaAndEmaRateWithFloat16ConvertedAndPrefixRemoved()
    {
        string run = ImportWithTwoEmas(Tmp("run"));
        var checkpoint = SafetensorsFile.Read(Checkpoint.PathIn(run));
        Assert.Equal("123", checkpoint.Metadata["iteration"]);
        Assert.Equal("0", checkpoint.Metadata["adam_steps"]);
        var (model, ema, slow) = (Section(checkpoint, "model."), Section(checkpoint, "ema."), Section(checkpoint, "ema_0.9999."));
        Assert.Equal(Weights.Tensors.Keys.Order(StringComparer.Ordinal), model.Keys.Order(StringComparer.Ordinal));
        int halves = 0;
        foreach (var (key, tensor) in Weights.Tensors)
        {
            var expected = IsHalf(key) ? tensor.Data.Select(v => (float)(Half)v).ToArray() : tensor.Data;
            halves += IsHalf(key) ? 1 : 0;
            Assert.True(expected.SequenceEqual(model[key]), $"model.{key}");
            Assert.True(tensor.Data.Select(v => v * 0.5f).SequenceEqual(ema[key]), $"ema.{key}");
            Assert.True(tensor.Data.Select(v => v * 0.25f).SequenceEqual(slow[key]), $"ema_0.9999.{key}");
        }
        Assert.True(halves > 5 && Weights.Get("input_blocks.1.0.in_layers.2.weight").Data.Any(v => (float)(Half)v != v));
        Assert.All(checkpoint.Tensors.Where(kv => kv.Key.StartsWith("adam_")), kv => Assert.All(kv.Value.Data, v => Assert.Equal(0f, v)));

        var training = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!["training"]!;
        Assert.Equal(0.999f, training["ema_decay"]!.GetValue<float>());
        Assert.Equal([0.9999f], training["extra_ema_decays"]!.AsArray().Select(v => v!.GetValue<float>()));
        Assert.Equal(34, training["rk"]!.GetValue<int>()); // predstep 3: CUD RK34 with the generator_list heads

        string samples = Tmp("samples");
        var (exit, stdout, stderr) = CliRunner.Run("sample", "--run", run, "--solver", "euler", "--nfe", "1", "--count", "2", "--head", "3",
            "--threads", "1", "--device", "cpu", "--out", samples);
        Assert.True(exit == 0, stderr + stdout);
        var x = SafetensorsFile.Read(Path.Combine(samples, "samples.safetensors")).Get("x");
        Assert.Equal([2, 3, 16, 16], x.Shape);
        Assert.All(x.Data, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ExportedPtFilesImportBackToTheSameRun()
    {
        string run = ImportWithTwoEmas(Tmp("run")), exported = Tmp("exported"), back = Tmp("back");
        var (exit, stdout, stderr) = CliRunner.Run("export", "--format", "pth", "--run", run, "--out", exported);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Equal(["config.json", "ema_0.9999_000123.pt", "ema_0.999_000123.pt", "model000123.pt"],
            Directory.GetFiles(exported).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var reread = ReferenceCheckpoint.ReadStateDict(Path.Combine(exported, "ema_0.999_000123.pt"), "ema");
        Assert.Equal(Weights.Tensors.Count, reread.Keys.Count);

        (exit, stdout, stderr) = CliRunner.Run("import", "--pth", Path.Combine(exported, "model000123.pt"), "--ema", Path.Combine(exported, "ema_0.999_000123.pt"),
            "--ema", Path.Combine(exported, "ema_0.9999_000123.pt"), "--model", Path.Combine(exported, "config.json"), "--out", back);
        Assert.True(exit == 0, stderr + stdout);
        var a = SafetensorsFile.Read(Checkpoint.PathIn(run));
        var b = SafetensorsFile.Read(Checkpoint.PathIn(back));
        Assert.Equal(a.Tensors.Keys.Order(StringComparer.Ordinal), b.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var key in a.Tensors.Keys) Assert.True(a.Get(key).Data.SequenceEqual(b.Get(key).Data), key);
        Assert.Equal(a.Metadata, b.Metadata);
        Assert.Equal(File.ReadAllText(Path.Combine(run, "config.json")), File.ReadAllText(Path.Combine(back, "config.json")));

        (exit, _, stderr) = CliRunner.Run("export", "--format", "pth", "--no-ema", "--run", run, "--out", Tmp("raw"));
        Assert.True(exit == 0, stderr);
        Assert.Equal(["config.json", "model000123.pt"], Directory.GetFiles(Tmp("raw")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void WithoutEmaFilesEveryEmaIsTheModelAndTheRunResumesTraining()
    {
        string model = Tmp("tiny.json");
        File.WriteAllText(model, """
            { "unet_type": "adm", "image_size": 8, "in_channels": 1, "num_channels": 32, "num_res_blocks": 1, "channel_mult": "1",
              "attention_resolutions": "8", "num_head_channels": 16, "class_cond": true, "num_classes": 10, "use_scale_shift_norm": true,
              "resblock_updown": true, "dropout": 0.1 }
            """);
        var config = AdmUNetConfig.Load(model);
        using var backend = new CpuBackend(1);
        using var net = config.Build(backend);
        Randomize(net.Parameters, 3);
        string pt = Tmp("model000005.pt");
        PthWriter.WriteStateDict(pt, StateDict.Export(net.Parameters).ToList());
        string data = TinyRunFiles.WriteMnist(_dir, 16), run = Tmp("run");
        var (exit, stdout, stderr) = CliRunner.Run("import", "--pth", pt, "--model", model, "--shakedrop", "--data", data, "--dataset", "mnist", "--out", run);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("no --ema files: every EMA (0.999, 0.9999, 0.9999432) starts as the model's weights", stdout);
        Assert.Contains("Adam's moments start from zero", stdout);
        var checkpoint = SafetensorsFile.Read(Checkpoint.PathIn(run));
        var raw = Section(checkpoint, "model.");
        foreach (var prefix in new[] { "ema.", "ema_0.9999.", "ema_0.9999432." })
            Assert.All(Section(checkpoint, prefix), kv => Assert.True(raw[kv.Key].SequenceEqual(kv.Value), prefix + kv.Key));

        // The imagenet64-paper preset's batch of 1024 is the reference's; a CPU test trains on 4 (edit config.json, as the note says).
        string configPath = Path.Combine(run, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(configPath))!;
        Assert.Equal("mnist", json["training"]!["dataset"]!.GetValue<string>());
        Assert.True(json["model"]!["prior_shakedrop"]!.GetValue<bool>());
        json["training"]!["batch"] = 4;
        File.WriteAllText(configPath, json.ToJsonString());
        (exit, stdout, stderr) = CliRunner.Run("train", "--resume", run, "--iterations", "6", "--threads", "1", "--device", "cpu");
        Assert.True(exit == 0, stderr + stdout);
        var after = SafetensorsFile.Read(Checkpoint.PathIn(run));
        Assert.Equal("6", after.Metadata["iteration"]);
        Assert.False(raw["out.2.weight"].SequenceEqual(after.Get("model.out.2.weight").Data));
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "missing", "model000123.pt: missing tensor 'out.2.bias' (expected shape [3])" },
        { "extra", "model000123.pt: 2 unknown tensors (the model has no such parameters): 'extra.a' [2], 'extra.b' [2]" },
        { "shape", "model000123.pt: tensor 'out.2.bias' has shape [4], the model expects [3]" },
        { "ema name", "ema_fast_000123.pt: an EMA file must be named ema_<rate>_<step>.pt" },
        { "ema step", "ema_0.999_000124.pt: is from step 124, the model model000123.pt from step 123" },
        { "ema shape", "ema_0.999_000123.pt: tensor 'out.2.bias' has shape [4], the model expects [3]" },
        { "preset", "model000123.pt: " },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadFilesAreOneLineErrorsNamingTheFileAndWriteNothing(string kind, string expected)
    {
        IEnumerable<KeyValuePair<string, HostTensor>> Edit(IEnumerable<KeyValuePair<string, HostTensor>> t) => kind switch
        {
            "missing" => t.Where(kv => kv.Key != "out.2.bias"),
            "extra" => t.Append(KeyValuePair.Create("extra.b", new HostTensor([2], [1, 2]))).Append(KeyValuePair.Create("extra.a", new HostTensor([2], [1, 2]))),
            "shape" or "ema shape" => t.Select(kv => kv.Key == "out.2.bias" ? KeyValuePair.Create(kv.Key, new HostTensor([4], new float[4])) : kv),
            _ => t,
        };
        string model = WritePt("model000123.pt", edit: kind.StartsWith("ema") ? null : Edit);
        string[] ema = kind switch
        {
            "ema name" => ["--ema", WritePt("ema_fast_000123.pt")],
            "ema step" => ["--ema", WritePt("ema_0.999_000124.pt")],
            "ema shape" => ["--ema", WritePt("ema_0.999_000123.pt", edit: Edit)],
            _ => [],
        };
        var (exit, _, stderr) = CliRunner.Run(["import", "--pth", model, .. ema, "--model", kind == "preset" ? "imagenet64-tiny" : Config, "--out", Tmp("run")]);
        Assert.Equal(1, exit);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, stderr);
        Assert.StartsWith("catchup: error: ", stderr);
        Assert.False(Directory.Exists(Tmp("run")));
        Assert.Empty(Directory.GetDirectories(_dir));
    }

    /// <summary>tests/golden/adm_pt: files PyTorch's torch.save wrote (tests/golden/make_adm_pt_golden.py): 'module.' keys,
    /// four float16 tensors, every float32 tensor a view at an offset into one shared storage.</summary>
    [Fact]
    public void FilesWrittenByTorchSaveImportTensorForTensor()
    {
        string dir = Golden("adm_pt"), run = Tmp("torch");
        const string ema = "ema_0.9999432189950708_000042.pt";
        var (exit, stdout, stderr) = CliRunner.Run("import", "--pth", Path.Combine(dir, "model000042.pt"), "--ema", Path.Combine(dir, ema),
            "--model", Path.Combine(dir, "adm_pt.json"), "--out", run);
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("iteration 42, EMA 0.9999432 -> ema.*, Adam moments zero", stdout);
        Assert.Contains("note: 4 tensor(s) stored as float16", stdout);
        var checkpoint = SafetensorsFile.Read(Checkpoint.PathIn(run));
        var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")))!;
        foreach (var (file, prefix) in new[] { ("model000042.pt", "model."), (ema, "ema.") })
        {
            var tensors = expected[file]!.AsObject();
            Assert.Equal(tensors.Count, checkpoint.Tensors.Keys.Count(k => k.StartsWith(prefix, StringComparison.Ordinal)));
            foreach (var (key, node) in tensors)
            {
                var t = checkpoint.Get(prefix + key);
                var e = node!.AsArray();
                Assert.Equal(e[0]!.AsArray().Select(d => d!.GetValue<int>()), t.Shape);
                double sum = 0, weighted = 0, scale = 1;
                for (int i = 0; i < t.Data.Length; i++) (sum, weighted, scale) = (sum + t.Data[i], weighted + (i + 1.0) * t.Data[i], scale + (i + 1.0) * Math.Abs(t.Data[i]));
                Assert.True(Math.Abs(sum - e[2]!.GetValue<double>()) <= 1e-12 * scale, $"{file} {key}: sum {sum}, torch {e[2]}");
                Assert.True(Math.Abs(weighted - e[3]!.GetValue<double>()) <= 1e-12 * scale, $"{file} {key}: weighted sum {weighted}, torch {e[3]}");
            }
        }
    }

    [Fact]
    public void AConfigWithoutHeadsTakesTheGeneratorHeadsOfTheFile()
    {
        string config = Tmp("predstep1.json");
        File.WriteAllText(config, File.ReadAllText(Config).Replace("\"predstep\": 3", "\"predstep\": 1"));
        string pt = WritePt("model000007.pt");
        var (exit, stdout, stderr) = CliRunner.Run("import", "--pth", pt, "--model", config, "--out", Tmp("run"));
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("model000007.pt holds 2 MetaGenerator head(s) (generator_list.N): predstep 3, CUD RK34", stdout);
        var options = TrainingOptions.Load(Path.Combine(Tmp("run"), "config.json"), TrainingOptions.Quick);
        Assert.Equal(3, ((AdmUNetConfig)options.Model).Predstep);
        Assert.Equal(7L, options.Objective.Order == 3 ? Checkpoint.ReadIteration(Tmp("run")) : -1);
    }

    [Fact]
    public void SongUNetOnlyAndAdmOnlyFlagsAreRefused()
    {
        string model = WritePt("model000001.pt");
        var (exit, _, stderr) = CliRunner.Run("import", "--pth", model, "--model", Config, "--generators", model, "--out", Tmp("a"));
        Assert.Equal(1, exit);
        Assert.Contains("--generators: an ADM model's heads are its own generator_list.N", stderr);
        (exit, _, stderr) = CliRunner.Run("import", "--pth", model, "--model", "mnist-paper", "--ema", model, "--out", Tmp("b"));
        Assert.Equal(1, exit);
        Assert.Contains("--ema is for an ADM model's", stderr);
    }
}
