using System.CommandLine;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Cli;

/// <summary><c>catchup velocity</c>: one inference pass of the velocity network on tensors from a safetensors file.</summary>
internal static class VelocityCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model config JSON (reference keys)", Required = true };
        var weights = new Option<string>("--weights") { Description = "Weights (safetensors, reference parameter names)", Required = true };
        var input = new Option<string>("--input") { Description = "safetensors with x [B,C,H,W] and t [B] (float32)", Required = true };
        var output = new Option<string>("--output") { Description = "safetensors to write: v, features, and head2/head3 when the weights hold heads", Required = true };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var device = DeviceOption.Create();
        var convAlgorithm = ConvAlgorithmOption.Create();
        var command = new Command("velocity", "Evaluate v(x, t) (inference mode, no dropout)") { model, weights, input, output, threads, device, convAlgorithm };
        command.SetAction(r => CliApp.Guard(() => Run(r.GetValue(model)!, r.GetValue(weights)!, r.GetValue(input)!, r.GetValue(output)!, r.GetValue(threads),
            r.GetValue(device)!, r.GetValue(convAlgorithm)!)));
        return command;
    }

    private static int Run(string modelPath, string weightsPath, string inputPath, string outputPath, int threads, string device, string convAlgorithm)
    {
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");
        var (config, weights, _) = ModelLoading.LoadReference(modelPath, weightsPath);

        var io = SafetensorsFile.Read(inputPath);
        var x = Require(io, "x", inputPath);
        var t = Require(io, "t", inputPath);
        int r = config.ImgResolution;
        if (x.Rank != 4 || x.Shape[1] != config.InChannels || x.Shape[2] != r || x.Shape[3] != r || x.Shape[0] < 1)
            throw new InvalidDataFileException(inputPath, $"tensor 'x' has shape {HostTensor.FormatShape(x.Shape)}, the model needs [B, {config.InChannels}, {r}, {r}] with B >= 1");
        if (t.Rank != 1 || t.Shape[0] != x.Shape[0])
            throw new InvalidDataFileException(inputPath, $"tensor 't' has shape {HostTensor.FormatShape(t.Shape)}, expected [{x.Shape[0]}] (one time per sample)");
        if (x.Data.Any(v => !float.IsFinite(v)) || t.Data.Any(v => !float.IsFinite(v)))
            throw new InvalidDataFileException(inputPath, "x or t holds a non-finite value");

        using var backend = DeviceOption.Open(device, threads, convAlgorithm: convAlgorithm);
        using var net = new SongUNet(config, backend);
        StateDict.Load(net.Parameters, weights, weightsPath);
        using var xs = backend.FromArray(x.Data, x.Shape);
        using var ts = backend.FromArray(t.Data, t.Shape);
        var result = net.Forward(xs, ts, ForwardMode.Inference);

        var outputs = new Dictionary<string, HostTensor>
        {
            ["v"] = new(result.V.Shape.ToArray(), result.V.ToArray()),
            ["features"] = new(result.Features.Shape.ToArray(), result.Features.ToArray()),
        };
        for (int j = 0; j < result.Heads.Count; j++)
            outputs[$"head{j + 2}"] = new(result.Heads[j].Shape.ToArray(), result.Heads[j].ToArray());
        SafetensorsFile.Write(outputPath, outputs);
        Console.WriteLine($"wrote {string.Join(", ", outputs.Select(kv => $"{kv.Key} {HostTensor.FormatShape(kv.Value.Shape)}"))} to {outputPath}");
        return 0;
    }

    private static HostTensor Require(SafetensorsFile file, string name, string path) =>
        file.Tensors.TryGetValue(name, out var tensor) ? tensor
            : throw new InvalidDataFileException(path, $"tensor '{name}' is missing (the file holds: {string.Join(", ", file.Tensors.Keys)})");
}
