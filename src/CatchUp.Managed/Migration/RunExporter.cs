using System.Text.Json.Nodes;
using CatchUp.Backends.Cpu;
using CatchUp.Cli;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Nn;
using CatchUp.Training;

namespace CatchUp.Migration;

/// <summary>
/// Writes a run's weights in the reference's layout: <c>flow_model_ema.pth</c> (the SongUNet state dict, buffers included,
/// so <c>load_state_dict(strict=True)</c> takes it), <c>generator_list_ema.pth</c> (one MetaGenerator state dict per
/// extra head), <c>forward_model_ema.pth</c> (the UNetEncoder: keys <c>encoder.*</c>), and the reference-format configs
/// <c>config_de.json</c> / <c>config_en.json</c> for its <c>--config_de</c> / <c>--config_en</c>. With safetensors, the
/// flow model's file holds its heads as <c>heads.N.*</c> (what <c>catchup sample --weights</c> reads).
/// </summary>
internal static class RunExporter
{
    public static IReadOnlyList<string> Export(string runDir, string outDir, string format, bool ema)
    {
        if (format is not ("pth" or "safetensors")) throw new CliUsageException($"--format {format}: expected pth or safetensors");
        var options = ModelLoading.LoadRunOptions(runDir);
        if (options.ModelWithHeads is AdmUNetConfig) return ExportWhole(options, runDir, outDir, format, ema);
        var loaded = ModelLoading.LoadRun(options, runDir, ema ? "ema." : "model.");
        var songConfig = (SongUNetConfig)loaded.Config;
        string suffix = ema ? "_ema" : "";
        var files = new List<(string Name, Action<string> Write)>();

        using var backend = new CpuBackend(1);
        using var net = new SongUNet(songConfig, backend);
        StateDict.Load(net.Parameters, loaded.Weights, loaded.Source);
        var all = Ordered(net.Parameters);
        var flow = all.Where(kv => !kv.Key.StartsWith("heads.", StringComparison.Ordinal)).ToList();
        var heads = Enumerable.Range(0, loaded.Config.ExtraHeads).Select(i => Section(all, $"heads.{i}.")).ToList();

        SongUNet? encoder = null;
        try
        {
            if (options.Objective.UsesEncoder)
            {
                encoder = new SongUNet(options.EncoderModelOrDefault, backend);
                StateDict.Load(encoder.Parameters, ModelLoading.LoadRun(options, runDir, "encoder.").Weights, loaded.Source);
            }
            var encoderWeights = encoder is null ? null : Ordered(encoder.Parameters);
            if (format == "pth")
            {
                files.Add(($"flow_model{suffix}.pth", p => PthWriter.WriteStateDict(p, flow)));
                if (heads.Count > 0) files.Add(($"generator_list{suffix}.pth", p => PthWriter.WriteStateDictList(p, heads)));
                if (encoderWeights is not null)
                    files.Add(($"forward_model{suffix}.pth", p => PthWriter.WriteStateDict(p, encoderWeights.Select(kv => KeyValuePair.Create("encoder." + kv.Key, kv.Value)).ToList())));
            }
            else
            {
                files.Add(($"flow_model{suffix}.safetensors", p => SafetensorsFile.Write(p, all)));
                if (encoderWeights is not null) files.Add(($"forward_model{suffix}.safetensors", p => SafetensorsFile.Write(p, encoderWeights)));
            }
            files.Add(("config_de.json", p => AtomicFile.WriteAllText(p, ReferenceJson(songConfig))));
            if (encoder is not null) files.Add(("config_en.json", p => AtomicFile.WriteAllText(p, ReferenceJson(options.EncoderModelOrDefault))));
        }
        finally
        {
            encoder?.Dispose();
        }

        Directory.CreateDirectory(outDir);
        foreach (var (name, write) in files) write(Path.Combine(outDir, name));
        return files.Select(f => Path.Combine(outDir, f.Name)).ToList();
    }

    /// <summary>
    /// An ADM run: the whole UNetModel state dict (its heads are its own <c>generator_list.N</c>). With pth, the files the
    /// ADM reference's <c>cm/train_util.py</c> saves at a checkpoint, which <c>catchup import</c> and the reference's
    /// <c>--resume_checkpoint</c> read back: <c>model{step:06d}.pt</c> (raw weights) and, unless --no-ema,
    /// <c>ema_{rate}_{step:06d}.pt</c> for the run's EMA rate and each extra one. With safetensors, one file
    /// (<c>model_ema.safetensors</c> or <c>model.safetensors</c>). Both with the run's config.json (create_model's keys).
    /// </summary>
    private static IReadOnlyList<string> ExportWhole(TrainingOptions options, string runDir, string outDir, string format, bool ema)
    {
        var files = new List<(string Name, string Prefix)>();
        if (format == "pth")
        {
            long step = Checkpoint.ReadIteration(runDir);
            files.Add((AdmCheckpointNames.Model(step), "model."));
            if (ema)
                files.AddRange(new[] { options.EmaDecay }.Concat(options.ExtraEmaDecays)
                    .Select((rate, i) => (AdmCheckpointNames.Ema(rate, step), i == 0 ? "ema." : Trainer.ExtraEmaPrefix(rate))));
        }
        else files.Add((ema ? "model_ema.safetensors" : "model.safetensors", ema ? "ema." : "model."));

        var sets = ModelLoading.LoadRun(options, runDir, files.Select(f => f.Prefix).ToList());
        using var backend = new CpuBackend(1);
        using var net = options.ModelWithHeads.Build(backend);
        var written = new List<(string Name, List<KeyValuePair<string, HostTensor>> Weights)>();
        for (int i = 0; i < files.Count; i++)
        {
            StateDict.Load(net.Parameters, sets[i].Weights, $"{sets[i].Source} ({files[i].Prefix}*)");
            written.Add((files[i].Name, Ordered(net.Parameters)));
        }
        Directory.CreateDirectory(outDir);
        foreach (var (name, weights) in written)
        {
            if (format == "pth") PthWriter.WriteStateDict(Path.Combine(outDir, name), weights);
            else SafetensorsFile.Write(Path.Combine(outDir, name), weights);
        }
        AtomicFile.WriteAllText(Path.Combine(outDir, "config.json"), options.ModelWithHeads.ToJson() + "\n");
        return written.Select(w => Path.Combine(outDir, w.Name)).Append(Path.Combine(outDir, "config.json")).ToList();
    }

    /// <summary>The parameters in registration order, each conv's resample-filter buffer after its weight and bias (PyTorch's state-dict order).</summary>
    private static List<KeyValuePair<string, HostTensor>> Ordered(ParameterSet parameters)
    {
        var tensors = StateDict.Export(parameters, includeBuffers: true);
        var buffers = new HashSet<string>(parameters.ResampleFilterBuffers, StringComparer.Ordinal);
        var result = new List<KeyValuePair<string, HostTensor>>(tensors.Count);
        var all = parameters.All;
        for (int i = 0; i < all.Count; i++)
        {
            result.Add(KeyValuePair.Create(all[i].Name, tensors[all[i].Name]));
            string module = all[i].Name[..all[i].Name.LastIndexOf('.')];
            bool lastOfModule = i + 1 == all.Count || !all[i + 1].Name.StartsWith(module + ".", StringComparison.Ordinal);
            if (lastOfModule && buffers.Contains(module + ".resample_filter"))
                result.Add(KeyValuePair.Create(module + ".resample_filter", tensors[module + ".resample_filter"]));
        }
        return result;
    }

    private static IReadOnlyList<KeyValuePair<string, HostTensor>> Section(List<KeyValuePair<string, HostTensor>> all, string prefix) =>
        all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(kv => KeyValuePair.Create(kv.Key[prefix.Length..], kv.Value)).ToList();

    /// <summary>The config as the reference's configs/*.json spell it (its SongUNet takes every key; <c>num_params</c> is informational).</summary>
    public static string ReferenceJson(SongUNetConfig config)
    {
        var ours = JsonNode.Parse(config.ToJson())!.AsObject();
        var result = new JsonObject { ["unet_type"] = "songunet" };
        foreach (var (key, value) in ours)
        {
            if (key == "extra_heads") continue;
            result[key] = value?.DeepClone();
            if (key == "out_channels") (result["label_dim"], result["augment_dim"]) = (0, 0);
            if (key == "dropout") result["label_dropout"] = 0;
        }
        result["num_params"] = SongUNetParameterCount.Of(config with { ExtraHeads = 0 }) / 1e6;
        return result.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}
