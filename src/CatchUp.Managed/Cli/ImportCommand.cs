using System.CommandLine;
using System.Globalization;
using CatchUp.Migration;

namespace CatchUp.Cli;

/// <summary><c>catchup import</c>: a run directory from the PyTorch reference's .pth checkpoints.</summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var pth = new Option<string>("--pth") { Description = "flow_model_<i>[_ema].pth or training_state_<i>.pth (DDP/torch.compile prefixes are removed)", Required = true };
        var generators = new Option<string?>("--generators") { Description = "generator_list_<i>[_ema].pth: the MetaGenerators, in order, become heads 2 and 3" };
        var encoder = new Option<string?>("--encoder") { Description = "forward_model_<i>[_ema].pth: the noise encoder" };
        var model = new Option<string>("--model") { Description = "The flow model's config (the reference's --config_de JSON, unchanged)", Required = true };
        var encoderModel = new Option<string?>("--encoder-model") { Description = "The encoder's config (the reference's --config_en JSON)" };
        var shakedrop = new Option<bool>("--shakedrop") { Description = "The reference's --shakedrop: the model was trained with dynamic skip connections (prior_shakedrop)" };
        var phi = new Option<double?>("--phi") { Description = "The reference's --phi (default: the config's phi, else the reference's 0.25)" };
        var data = new Option<string?>("--data") { Description = "Dataset directory the run trains on when resumed (train --resume)" };
        var dataset = new Option<string?>("--dataset") { Description = "fashion-mnist | mnist | cifar10 (default: detected from --data, else from the image size)" };
        var outDir = new Option<string>("--out") { Description = "The new run directory", Required = true };
        var command = new Command("import", "Convert the PyTorch reference's .pth checkpoints into a CatchUp run (config.json + checkpoint.safetensors)")
        {
            pth, generators, encoder, model, encoderModel, shakedrop, phi, data, dataset, outDir,
        };
        command.SetAction(r => CliApp.Guard(() =>
        {
            var config = ModelLoading.LoadConfig(r.GetValue(model)!);
            if (r.GetValue(shakedrop)) config = config with { PriorShakedrop = true };
            if (r.GetValue(phi) is double p) config = config with { Phi = p };
            config.Validate("--phi");
            var encoderConfig = r.GetValue(encoderModel) is string em ? ModelLoading.LoadConfig(em, ConfigRole.NoiseEncoder) : null;
            string? dataDir = r.GetValue(data);
            string? datasetName = r.GetValue(dataset) ?? (dataDir is null ? null : DatasetArguments.Detect(dataDir));
            if (datasetName is not null) DatasetArguments.Parse(datasetName);
            var request = new ImportRequest(r.GetValue(pth)!, r.GetValue(generators), r.GetValue(encoder), config, encoderConfig, r.GetValue(outDir)!,
                datasetName, dataDir);
            var result = RunImporter.Import(request);
            var m = result.Options.Model;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"imported {request.FlowPath} -> {request.OutDir}: {m.Describe()}, " +
                $"{m.ExtraHeads} extra head(s), {(result.Options.EncoderModel is null ? "no encoder" : "encoder")}, iteration {result.Iteration}, " +
                $"Adam moments {(result.AdamMoments ? "imported" : "zero")}"));
            foreach (var note in result.Notes) Console.WriteLine($"note: {note}");
            Console.WriteLine($"sample with: catchup sample --run {request.OutDir} --solver euler --nfe 4 --out samples");
            return 0;
        }));
        return command;
    }
}
