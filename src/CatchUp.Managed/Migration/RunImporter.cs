using CatchUp.Backends.Cpu;
using CatchUp.Data;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Objectives;
using CatchUp.Training;

namespace CatchUp.Migration;

/// <summary>What <c>catchup import</c> was asked to convert.</summary>
internal sealed record ImportRequest(string FlowPath, string? GeneratorsPath, string? EncoderPath, SongUNetConfig Model,
    SongUNetConfig? EncoderModel, string OutDir, string? Dataset, string? DataDir = null);

/// <summary>What an import wrote, for the summary line.</summary>
internal sealed record ImportResult(TrainingOptions Options, long Iteration, bool AdamMoments, IReadOnlyList<string> Notes);

/// <summary>
/// Turns the reference's checkpoints into a CatchUp run directory (config.json + checkpoint.safetensors). Everything is
/// read and checked first; the run is written to a temporary folder that is renamed into place, so a failure writes nothing.
/// </summary>
internal static class RunImporter
{
    public static ImportResult Import(ImportRequest request)
    {
        CheckNewRunDir(request.OutDir);

        var flow = ReferenceCheckpoint.ReadFlow(request.FlowPath);
        var generators = request.GeneratorsPath is { } g ? ReferenceCheckpoint.ReadGenerators(g) : flow.Generators;
        string headSource = request.GeneratorsPath ?? request.FlowPath;
        if (generators.Count > 2)
            throw new InvalidDataFileException(headSource, $"holds {generators.Count} generators; at most 2 (RK34) are supported");
        var encoder = request.EncoderPath is { } e ? ReferenceCheckpoint.ReadEncoder(e) : flow.Encoder;
        string encoderSource = request.EncoderPath ?? request.FlowPath;
        if (encoder is not null && request.EncoderModel is null)
            throw new Cli.CliUsageException($"{encoderSource} holds an encoder: give its config with --encoder-model ENC.json");
        if (encoder is null && request.EncoderModel is not null)
            throw new Cli.CliUsageException("--encoder-model needs the encoder's weights: --encoder forward_model_<i>.pth (or a training_state with one)");

        var model = request.Model with { ExtraHeads = generators.Count };
        var options = TrainingOptions.Quick with
        {
            Model = model,
            EncoderModel = request.EncoderModel,
            Objective = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Order = generators.Count + 1, Encoder = encoder is not null },
            Dataset = request.Dataset ?? GuessDataset(model),
            DataDir = request.DataDir,
            Iterations = Math.Max(flow.Iteration, 1),
            EmaDecay = 0.9999f,
            EmaStart = 0,
        };
        if (flow.Adam is { LearningRate: > 0 } adamState)
            options = options with
            {
                LearningRate = (float)adamState.LearningRate,
                Optimizer = adamState.WeightDecay > 0 ? "adamw" : "adam",
                WeightDecay = (float)adamState.WeightDecay,
            };
        options.Validate(request.FlowPath);

        var notes = new List<string>();
        using var backend = new CpuBackend(1);
        using var net = new SongUNet(model, backend);
        using var ema = new SongUNet(model, backend);
        using var encoderNet = encoder is not null ? new SongUNet(request.EncoderModel!, backend) : null;
        string weightsSource = request.GeneratorsPath is null ? request.FlowPath : $"{request.FlowPath} (heads from {request.GeneratorsPath})";
        StateDict.Load(net.Parameters, WithHeads(flow.Model, generators), weightsSource);
        StateDict.Load(ema.Parameters, WithHeads(flow.Ema ?? flow.Model, generators), weightsSource);
        if (encoderNet is not null) StateDict.Load(encoderNet.Parameters, encoder!.WithPrefix(""), encoderSource);
        if (flow.Ema is null) notes.Add("the EMA weights are the checkpoint's weights");

        var trainable = net.Parameters.All.Concat(encoderNet?.Parameters.All ?? []).ToList();
        using var adam = new AdamOptimizer(backend, trainable, weightDecay: options.WeightDecay, decoupled: options.Optimizer == "adamw");
        bool moments = flow.Adam is { } state && LoadMoments(state, flow, adam, net, request.FlowPath, notes);

        WriteRun(request.OutDir, options, dir => Checkpoint.Save(dir, new TrainerProgress(flow.Iteration, moments ? adam.Steps : 0, 0, BatchSamplerState.Fresh),
            net.Parameters, ema.Parameters, encoderNet?.Parameters, adam));
        return new ImportResult(options, flow.Iteration, moments, notes);
    }

    /// <summary>--out must be a new or empty directory.</summary>
    public static void CheckNewRunDir(string outDir)
    {
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new InvalidDataFileException(outDir, "already exists and is not empty; choose another --out");
        if (File.Exists(outDir)) throw new InvalidDataFileException(outDir, "is a file; --out must be a new run directory");
    }

    /// <summary>Writes config.json and, through <paramref name="writeCheckpoint"/>, the checkpoint into a temporary folder
    /// beside <paramref name="outDir"/> that is then renamed into place: a failure leaves nothing behind.</summary>
    public static void WriteRun(string outDir, TrainingOptions options, Action<string> writeCheckpoint)
    {
        string full = Path.GetFullPath(outDir);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.import-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            AtomicFile.WriteAllText(Path.Combine(temp, "config.json"), options.ToJson());
            writeCheckpoint(temp);
            if (Directory.Exists(outDir)) Directory.Delete(outDir);
            Directory.Move(temp, outDir);
        }
        catch
        {
            Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    private static Dictionary<string, HostTensor> WithHeads(ReferenceStateDict flow, IReadOnlyList<ReferenceStateDict> generators)
    {
        var all = flow.WithPrefix("");
        for (int i = 0; i < generators.Count; i++)
            foreach (var (k, v) in generators[i].WithPrefix($"heads.{i}.")) all[k] = v;
        return all;
    }

    /// <summary>
    /// The reference's Adam holds the forward model's parameters, then the flow model's, then the generators', each in
    /// <c>parameters()</c> order, which is its state dict's order without buffers. Moments that do not line up with that
    /// list are left at zero, with a note.
    /// </summary>
    private static bool LoadMoments(ReferenceAdamState state, ReferenceFlow flow, AdamOptimizer adam, SongUNet net, string path, List<string> notes)
    {
        var names = (flow.Encoder?.ParameterKeys.Select(k => "encoder." + k) ?? [])
            .Concat(flow.Model.ParameterKeys)
            .Concat(flow.Generators.SelectMany((g, i) => g.ParameterKeys.Select(k => $"heads.{i}.{k}")))
            .ToList();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < adam.Parameters.Count; i++)
        {
            var p = adam.Parameters[i];
            index[(net.Parameters.TryGet(p.Name, out var mp) && ReferenceEquals(mp, p) ? "" : "encoder.") + p.Name] = i;
        }
        if (state.ParameterOrder.Count != names.Count || names.Count != adam.Parameters.Count || state.Moments.Count == 0)
        {
            notes.Add($"the optimizer state lists {state.ParameterOrder.Count} parameters, the model has {adam.Parameters.Count}: Adam's moments start from zero");
            return false;
        }
        for (int k = 0; k < names.Count; k++)
        {
            if (!state.Moments.TryGetValue(state.ParameterOrder[k], out var mv) || !index.TryGetValue(names[k], out int i)) continue;
            var p = adam.Parameters[i];
            if (!mv.M.HasShape(p.Shape) || !mv.V.HasShape(p.Shape))
                throw new InvalidDataFileException(path, $"optimizer state for '{names[k]}' has shape {HostTensor.FormatShape(mv.M.Shape)}, the parameter {HostTensor.FormatShape(p.Shape)}");
            adam.Parameters[i].Value.Backend.Upload(mv.M.Data, adam.FirstMoment(i));
            adam.Parameters[i].Value.Backend.Upload(mv.V.Data, adam.SecondMoment(i));
        }
        adam.Steps = state.Steps;
        return true;
    }

    private static string GuessDataset(SongUNetConfig model) => (model.InChannels, model.ImgResolution) switch
    {
        (1, 28) => "mnist",
        (3, 32) => "cifar10",
        _ => "fashion-mnist",
    };
}
