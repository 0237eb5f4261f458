using System.CommandLine;
using System.Globalization;
using CatchUp.Migration;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Training;

namespace CatchUp.Cli;

/// <summary><c>catchup import</c>: a run directory from the PyTorch reference's .pth checkpoints.</summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var pth = new Option<string>("--pth") { Description = "flow_model_<i>[_ema].pth or training_state_<i>.pth; for an ADM model, model<step>.pt (DDP/torch.compile prefixes are removed)", Required = true };
        var emas = new Option<string[]>("--ema") { Description = "ADM: an ema_<rate>_<step>.pt file of the same step (repeatable; the run's EMA rate becomes ema.*, the others ema_<rate>.*)" };
        var generators = new Option<string?>("--generators") { Description = "generator_list_<i>[_ema].pth: the MetaGenerators, in order, become heads 2 and 3" };
        var encoder = new Option<string?>("--encoder") { Description = "forward_model_<i>[_ema].pth: the noise encoder" };
        var model = new Option<string>("--model") { Description = "The flow model's config (the reference's --config_de JSON, unchanged), or an ADM config (\"unet_type\": \"adm\") or preset (imagenet64-paper, imagenet64-tiny)", Required = true };
        var encoderModel = new Option<string?>("--encoder-model") { Description = "The encoder's config (the reference's --config_en JSON)" };
        var shakedrop = new Option<bool>("--shakedrop") { Description = "The reference's --shakedrop: the model was trained with dynamic skip connections (prior_shakedrop)" };
        var phi = new Option<double?>("--phi") { Description = "The reference's --phi (default: the config's phi, else the reference's 0.25)" };
        var data = new Option<string?>("--data") { Description = "Dataset directory the run trains on when resumed (train --resume)" };
        var dataset = new Option<string?>("--dataset") { Description = "fashion-mnist | mnist | cifar10 (default: detected from --data, else from the image size)" };
        var outDir = new Option<string>("--out") { Description = "The new run directory", Required = true };
        var command = new Command("import", "Convert the PyTorch reference's .pth checkpoints into a CatchUp run (config.json + checkpoint.safetensors)")
        {
            pth, emas, generators, encoder, model, encoderModel, shakedrop, phi, data, dataset, outDir,
        };
        command.SetAction(r => CliApp.Guard(() =>
        {
            string? dataDir = r.GetValue(data);
            string? datasetName = r.GetValue(dataset) ?? (dataDir is null ? null : DatasetArguments.Detect(dataDir));
            if (datasetName is not null) DatasetArguments.Parse(datasetName);
            if (ModelLoading.IsAdm(r.GetValue(model)!))
            {
                foreach (var (name, given) in new[] { ("--generators", r.GetValue(generators)), ("--encoder", r.GetValue(encoder)), ("--encoder-model", r.GetValue(encoderModel)) })
                    if (given is not null) throw new CliUsageException($"{name}: an ADM model's heads are its own generator_list.N in --pth, and it has no noise encoder");
                return ImportAdm(r.GetValue(model)!, r.GetValue(pth)!, r.GetValue(emas) ?? [], r.GetValue(shakedrop), r.GetValue(phi), r.GetValue(outDir)!, datasetName, dataDir);
            }
            if (r.GetValue(emas) is { Length: > 0 }) throw new CliUsageException("--ema is for an ADM model's ema_<rate>_<step>.pt files; a SongUNet run's EMA comes with --pth");
            var config = ModelLoading.LoadConfig(r.GetValue(model)!);
            if (r.GetValue(shakedrop)) config = config with { PriorShakedrop = true };
            if (r.GetValue(phi) is double p) config = config with { Phi = p };
            config.Validate("--phi");
            var encoderConfig = r.GetValue(encoderModel) is string em ? ModelLoading.LoadConfig(em, ConfigRole.NoiseEncoder) : null;
            var request = new ImportRequest(r.GetValue(pth)!, r.GetValue(generators), r.GetValue(encoder), config, encoderConfig, r.GetValue(outDir)!,
                datasetName, dataDir);
            var result = RunImporter.Import(request);
            var m = result.Options.Model;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"imported {request.FlowPath} -> {request.OutDir}: {m.Describe()}, " +
                $"{m.ExtraHeads} extra head(s), {(result.Options.EncoderModel is null ? "no encoder" : "encoder")}, iteration {result.Iteration}, " +
                $"Adam moments {(result.AdamMoments ? "imported" : "zero")}"));
            PrintNotes(result, request.OutDir);
            return 0;
        }));
        return command;
    }

    /// <summary>The ADM reference's model{step}.pt (+ ema_{rate}_{step}.pt files) with a config file or an ADM preset.</summary>
    private static int ImportAdm(string modelArgument, string modelPath, string[] emaPaths, bool shakedrop, double? phi, string outDir,
        string? datasetName, string? dataDir)
    {
        bool preset = VelocityModels.Preset(modelArgument) is AdmUNetConfig;
        var baseOptions = preset ? TrainingOptions.Preset(modelArgument) : TrainingOptions.ImageNet64Paper with { Model = AdmUNetConfig.Load(modelArgument) };
        var config = (AdmUNetConfig)baseOptions.Model;
        if (shakedrop) config = config with { PriorShakedrop = true };
        if (phi is double p) config = config with { Phi = p };
        config.Validate("--phi");
        var request = new AdmImportRequest(modelPath, emaPaths, baseOptions with { Model = config },
            preset ? $"the {modelArgument} preset" : "the imagenet64-paper preset", outDir, datasetName, dataDir);
        var result = AdmRunImporter.Import(request);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"imported {modelPath} -> {outDir}: {result.Options.Model.Describe()}, predstep {((AdmUNetConfig)result.Options.Model).Predstep}, " +
            $"iteration {result.Iteration}, EMA {AdmRunImporter.DescribeEmas(result.Options)}, Adam moments zero"));
        PrintNotes(result, outDir);
        return 0;
    }

    private static void PrintNotes(ImportResult result, string outDir)
    {
        foreach (var note in result.Notes) Console.WriteLine($"note: {note}");
        Console.WriteLine($"sample with: catchup sample --run {outDir} --solver euler --nfe 4 --out samples");
    }
}
