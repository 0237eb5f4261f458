using System.Globalization;
using CatchUp.Backends.Cpu;
using CatchUp.Data;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Objectives;
using CatchUp.Training;

namespace CatchUp.Migration;

/// <summary>What <c>catchup import</c> converts for an ADM model: the reference's <c>model{step}.pt</c> and any of its
/// <c>ema_{rate}_{step}.pt</c> files. <paramref name="Base"/> holds the ADM config and the training options the run gets
/// (a preset's); <paramref name="BaseName"/> names them in the notes.</summary>
internal sealed record AdmImportRequest(string ModelPath, IReadOnlyList<string> EmaPaths, TrainingOptions Base, string BaseName,
    string OutDir, string? Dataset, string? DataDir);

/// <summary>
/// Turns the ADM reference's checkpoint files (Catch-Up-Distillation-ImageNet-64x64, <c>cm/train_util.py</c>:
/// <c>torch.save(state_dict)</c> as <c>model{step:06d}.pt</c> and <c>ema_{rate}_{step:06d}.pt</c>) into a run directory.
/// Every file must hold exactly the AdmUNet's parameters (names and shapes; <c>module.</c> / <c>_orig_mod.</c> prefixes are
/// removed); float16 and other floating-point tensors become float32. The EMA file whose rate is the run's
/// <c>ema_decay</c> (else the first one given) becomes <c>ema.*</c>, the others <c>ema_RATE.*</c>. Adam's moments start
/// from zero: <c>opt{step}.pt</c> is not read. Nothing is written unless every file reads and checks.
/// </summary>
internal static class AdmRunImporter
{
    public static ImportResult Import(AdmImportRequest request)
    {
        RunImporter.CheckNewRunDir(request.OutDir);
        var notes = new List<string>();
        string modelName = Path.GetFileName(request.ModelPath);

        // The file names first: a misnamed EMA file fails before gigabytes are read.
        var emaFiles = request.EmaPaths.Select(p => (Path: p, Name: AdmCheckpointNames.ParseEma(p))).ToList();
        long? modelStep = AdmCheckpointNames.StepOf(request.ModelPath);
        long step = modelStep ?? (emaFiles.Count > 0 ? emaFiles[0].Name.Step : 0);
        if (modelStep is null)
            notes.Add($"{modelName} is not named model<step>.pt: the run continues from iteration {step}" + (emaFiles.Count > 0 ? " (the EMA files' step)" : ""));
        var seen = new Dictionary<float, string>();
        foreach (var (path, (rate, emaStep)) in emaFiles)
        {
            if (emaStep != step)
                throw new InvalidDataFileException(path, $"is from step {emaStep}, the model {modelName} from step {step}: give the EMA files of the same checkpoint");
            if (!seen.TryAdd(rate, path)) throw new InvalidDataFileException(path, $"EMA rate {Rate(rate)} is given twice (also {seen[rate]})");
        }

        var model = ReferenceCheckpoint.ReadStateDict(request.ModelPath, "the model");
        var config = (AdmUNetConfig)request.Base.Model;
        int heads = StateDict.CountHeads(model.Keys, config.HeadKeyPrefix);
        if (config.ExtraHeads == 0 && heads is 1 or 2)
        {
            config = config with { Predstep = heads + 1 };
            notes.Add($"{modelName} holds {heads} MetaGenerator head(s) ({config.HeadKeyPrefix}N): predstep {config.Predstep}, CUD RK{config.Predstep}{config.Predstep + 1}");
        }

        float emaDecay = request.Base.EmaDecay;
        float[] extraRates = request.Base.ExtraEmaDecays;
        if (emaFiles.Count > 0)
        {
            emaDecay = emaFiles.Any(e => e.Name.Rate == emaDecay) ? emaDecay : emaFiles[0].Name.Rate;
            extraRates = emaFiles.Select(e => e.Name.Rate).Where(r => r != emaDecay).ToArray();
        }
        var options = request.Base with
        {
            Model = config,
            EncoderModel = null,
            Objective = request.Base.Objective with { Kind = ObjectiveKind.Cud, Order = config.Predstep, Encoder = false },
            Dataset = request.Dataset ?? request.Base.Dataset,
            DataDir = request.DataDir,
            Iterations = Math.Max(request.Base.Iterations, Math.Max(step, 1)),
            EmaDecay = emaDecay,
            ExtraEmaDecays = extraRates,
        };
        options.Validate(request.ModelPath);

        using var backend = new CpuBackend(1);
        using var net = config.Build(backend);
        StateDict.Load(net.Parameters, model.Tensors, request.ModelPath);
        var sets = new List<(string Prefix, IReadOnlyDictionary<string, HostTensor> Weights)> { ("model.", model.Tensors) };
        int converted = model.Converted;
        foreach (var (path, (rate, _)) in emaFiles)
        {
            var ema = ReferenceCheckpoint.ReadStateDict(path, "the EMA model");
            StateDict.Load(net.Parameters, ema.Tensors, path);
            sets.Add((rate == emaDecay ? "ema." : Trainer.ExtraEmaPrefix(rate), ema.Tensors));
            converted += ema.Converted;
        }
        if (emaFiles.Count == 0)
        {
            sets.Add(("ema.", model.Tensors));
            sets.AddRange(extraRates.Select(r => (Trainer.ExtraEmaPrefix(r), (IReadOnlyDictionary<string, HostTensor>)model.Tensors)));
            notes.Add($"no --ema files: every EMA ({string.Join(", ", new[] { emaDecay }.Concat(extraRates).Select(Rate))}) starts as the model's weights, as the reference does without ema_<rate>_<step>.pt");
        }
        if (converted > 0) notes.Add($"{converted} tensor(s) stored as float16, bfloat16 or float64 were converted to float32");
        notes.Add($"Adam's moments start from zero (the reference's opt{step:D6}.pt is not read)");
        notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"training options from {request.BaseName}: batch {options.Batch}, lr {options.LearningRate}, warm-up {options.Warmup}, " +
            $"{options.Iterations} iterations, dataset {options.Dataset}; edit \"training\" in {Path.Combine(request.OutDir, "config.json")} to change them"));

        RunImporter.WriteRun(request.OutDir, options,
            dir => Checkpoint.SaveWeights(dir, new TrainerProgress(step, 0, 0, BatchSamplerState.Fresh), net.Parameters, sets));
        return new ImportResult(options, step, false, notes);
    }

    /// <summary>Where each EMA rate went in the checkpoint, for the summary line.</summary>
    public static string DescribeEmas(TrainingOptions options) => string.Join(", ",
        new[] { $"{Rate(options.EmaDecay)} -> ema.*" }.Concat(options.ExtraEmaDecays.Select(r => $"{Rate(r)} -> {Trainer.ExtraEmaPrefix(r)}*")));

    private static string Rate(float rate) => rate.ToString("R", CultureInfo.InvariantCulture);
}
