using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CatchUp.Backends.Cpu;
using CatchUp.Evaluation.Inception;
using CatchUp.IO;

namespace CatchUp.Cli;

/// <summary><c>catchup inception-features</c>: FID Inception-v3 pool3 features of images in a safetensors file.</summary>
internal static class InceptionFeaturesCommand
{
    private const int Chunk = 64;

    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "pytorch-fid's FID Inception-v3 weights converted to safetensors", Required = true };
        var samples = new Option<string>("--samples") { Description = "safetensors with images [N, C, H, W] in [-1, 1], C = 1 or 3", Required = true };
        var tensor = new Option<string?>("--tensor") { Description = "Name of the image tensor (default: the file's only tensor)" };
        var output = new Option<string>("--out") { Description = "safetensors to write: features [N, 2048]", Required = true };
        var threads = new Option<int>("--threads") { Description = "CPU threads (one image per thread)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("inception-features", "FID Inception-v3 pool3 features (pytorch-fid's network) of images")
            { weights, samples, tensor, output, threads };
        command.SetAction(r => CliApp.Guard(() =>
            Run(r.GetValue(weights)!, r.GetValue(samples)!, r.GetValue(tensor), r.GetValue(output)!, r.GetValue(threads))));
        return command;
    }

    private static int Run(string weightsPath, string samplesPath, string? tensorName, string outputPath, int threads)
    {
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");
        HostTensor images = ReadImages(samplesPath, tensorName);
        int count = images.Shape[0], channels = images.Shape[1], height = images.Shape[2], width = images.Shape[3];

        using var inception = InceptionV3Features.Load(weightsPath, threads);
        var features = new double[(long)count * inception.FeatureDim];
        int imageFloats = channels * height * width;
        var chunk = new float[Chunk * imageFloats];
        var chunkFeatures = new double[Chunk * inception.FeatureDim];
        var clock = Stopwatch.StartNew();
        TimeSpan cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        for (int done = 0; done < count; done += Chunk)
        {
            int n = Math.Min(Chunk, count - done);
            if (n < Chunk)
            {
                chunk = new float[n * imageFloats];
                chunkFeatures = new double[n * inception.FeatureDim];
            }
            Array.Copy(images.Data, (long)done * imageFloats, chunk, 0, (long)n * imageFloats);
            inception.Extract(chunk, n, channels, height, width, chunkFeatures);
            Array.Copy(chunkFeatures, 0, features, (long)done * inception.FeatureDim, chunkFeatures.Length);
            double rate = (done + n) / clock.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"inception-features: {done + n}/{count} images, {rate:F2} images/s");
        }
        double seconds = clock.Elapsed.TotalSeconds;
        // CPU time as well as wall time: on a shared machine the wall clock also counts time other processes held the cores.
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;

        var metadata = new Dictionary<string, string>
        {
            ["feature_space"] = inception.FeatureSpace,
            ["weights"] = Path.GetFileName(weightsPath),
            ["samples"] = Path.GetFileName(samplesPath),
        };
        var data = features.Select(v => (float)v).ToArray();
        SafetensorsFile.Write(outputPath, [new("features", new HostTensor([count, inception.FeatureDim], data))], metadata);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            command = "inception-features",
            output = outputPath,
            images = count,
            feature_space = inception.FeatureSpace,
            threads,
            simd = SimdInfo.Description,
            seconds = Math.Round(seconds, 3),
            images_per_s = Math.Round(count / seconds, 3),
            gflop_per_image = Math.Round(inception.FlopsPerImage / 1e9, 3),
            gflop_per_s = Math.Round(count * (double)inception.FlopsPerImage / seconds / 1e9, 2),
            cpu_seconds = Math.Round(cpuSeconds, 3),
            gflop_per_cpu_s = Math.Round(count * (double)inception.FlopsPerImage / cpuSeconds / 1e9, 2),
        }));
        return 0;
    }

    private static HostTensor ReadImages(string path, string? name)
    {
        var file = SafetensorsFile.Read(path);
        if (name is null)
        {
            if (file.Tensors.Count != 1)
                throw new InvalidDataFileException(path, $"holds {file.Tensors.Count} tensors ({string.Join(", ", file.Tensors.Keys)}); pick the images with --tensor");
            name = file.Tensors.Keys.Single();
        }
        if (!file.Tensors.TryGetValue(name, out HostTensor? images))
            throw new InvalidDataFileException(path, $"tensor '{name}' is missing (the file holds: {string.Join(", ", file.Tensors.Keys)})");
        if (images.Rank != 4 || images.Shape[0] < 1 || images.Shape[1] is not (1 or 3) || images.Shape[2] < 1 || images.Shape[3] < 1)
            throw new InvalidDataFileException(path, $"tensor '{name}' has shape {HostTensor.FormatShape(images.Shape)}, expected [N, C, H, W] with N >= 1 and C = 1 or 3");
        int bad = Array.FindIndex(images.Data, v => !float.IsFinite(v));
        if (bad >= 0)
            throw new InvalidDataFileException(path, $"tensor '{name}' element {bad.ToString(CultureInfo.InvariantCulture)} is {images.Data[bad]} (images must be finite)");
        return images;
    }
}
