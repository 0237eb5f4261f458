using System.CommandLine;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Cli;

/// <summary><c>catchup velocity</c>: one inference pass of the velocity network on tensors from a safetensors file.</summary>
internal static class VelocityCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model config JSON (reference keys; \"unet_type\": \"adm\" for an ADM UNetModel)", Required = true };
        var weights = new Option<string>("--weights") { Description = "Weights (safetensors, reference parameter names)", Required = true };
        var input = new Option<string>("--input") { Description = "safetensors with x [B,C,H,W] and t [B] (float32), and y [B] (int64 class indices) for a class-conditional model", Required = true };
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
        var (x, t) = ReadInputs(io, inputPath, config.InChannels, config.Resolution);
        int[]? labels = ReadLabels(io, inputPath, config, x.Shape[0]);

        using var backend = DeviceOption.Open(device, threads, convAlgorithm: convAlgorithm);
        using var net = config.Build(backend);
        StateDict.Load(net.Parameters, weights, weightsPath);
        using var xs = backend.FromArray(x.Data, x.Shape);
        using var ts = backend.FromArray(t.Data, t.Shape);
        WriteOutputs(outputPath, net.Forward(xs, ts, labels, ForwardMode.Inference));
        return 0;
    }

    /// <summary>y [B] int64 class indices: required by a class-conditional model (called as the reference calls it:
    /// model(x, t, y)), refused by an unconditional one.</summary>
    private static int[]? ReadLabels(SafetensorsFile io, string inputPath, IVelocityModelConfig config, int batch)
    {
        bool hasY = io.Tensors.TryGetValue("y", out var y);
        if (config.ClassCount > 0 && !hasY)
            throw new InvalidDataFileException(inputPath, $"tensor 'y' is missing: the model is class-conditional and needs y [{batch}] int64 class indices");
        if (config.ClassCount == 0 && hasY)
            throw new InvalidDataFileException(inputPath, "holds tensor 'y' but the model is unconditional: give no class labels");
        return y is null ? null : LabelsFile.Check(y, inputPath, batch, config.ClassCount);
    }

    private static (HostTensor X, HostTensor T) ReadInputs(SafetensorsFile io, string inputPath, int channels, int r)
    {
        var x = Require(io, "x", inputPath);
        var t = Require(io, "t", inputPath);
        if (x.Rank != 4 || x.Shape[1] != channels || x.Shape[2] != r || x.Shape[3] != r || x.Shape[0] < 1)
            throw new InvalidDataFileException(inputPath, $"tensor 'x' has shape {HostTensor.FormatShape(x.Shape)}, the model needs [B, {channels}, {r}, {r}] with B >= 1");
        if (t.Rank != 1 || t.Shape[0] != x.Shape[0])
            throw new InvalidDataFileException(inputPath, $"tensor 't' has shape {HostTensor.FormatShape(t.Shape)}, expected [{x.Shape[0]}] (one time per sample)");
        if (x.Data.Any(v => !float.IsFinite(v)) || t.Data.Any(v => !float.IsFinite(v)))
            throw new InvalidDataFileException(inputPath, "x or t holds a non-finite value");
        return (x, t);
    }

    private static void WriteOutputs(string outputPath, VelocityOutput result)
    {
        var outputs = new Dictionary<string, HostTensor>
        {
            ["v"] = new(result.V.Shape.ToArray(), result.V.ToArray()),
            ["features"] = new(result.Features.Shape.ToArray(), result.Features.ToArray()),
        };
        for (int j = 0; j < result.Heads.Count; j++)
            outputs[$"head{j + 2}"] = new(result.Heads[j].Shape.ToArray(), result.Heads[j].ToArray());
        SafetensorsFile.Write(outputPath, outputs);
        Console.WriteLine($"wrote {string.Join(", ", outputs.Select(kv => $"{kv.Key} {HostTensor.FormatShape(kv.Value.Shape)}"))} to {outputPath}");
    }

    private static HostTensor Require(SafetensorsFile file, string name, string path) =>
        file.Tensors.TryGetValue(name, out var tensor) ? tensor
            : throw new InvalidDataFileException(path, $"tensor '{name}' is missing (the file holds: {string.Join(", ", file.Tensors.Keys)})");
}
