using CatchUp.IO;
using CatchUp.Tests.Data;
using Xunit;

namespace CatchUp.Tests.Distributed;

/// <summary>`mpirun -np 2 catchup sample` writes the single-process samples.safetensors, bit for bit.</summary>
public class DistributedSamplingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-dps-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("euler", "4")]
    [InlineData("rk45", null)]
    public void TwoRanksWriteTheSingleProcessSamples(string solver, string? nfe)
    {
        string run = TrainedRun();
        string[] Args(string outDir, int threads) => ["sample", "--run", run, "--solver", solver,
            .. nfe is null ? Array.Empty<string>() : ["--nfe", nfe], "--count", "40", "--batch", "16", "--seed", "5", "--threads", $"{threads}", "--out", outDir];
        string one = Path.Combine(_dir, "one"), two = Path.Combine(_dir, "two");
        var single = CatchUpProcess.Run(Args(one, 2));
        Assert.True(single.Exit == 0, single.Stderr);
        var job = CatchUpProcess.Mpirun(2, Args(two, 1));
        Assert.True(job.Exit == 0, job.Stdout + job.Stderr);
        Assert.Contains("x 2 ranks", job.Stdout);
        Assert.Equal(File.ReadAllBytes(Path.Combine(one, "samples.safetensors")), File.ReadAllBytes(Path.Combine(two, "samples.safetensors")));
        Assert.Equal(SafetensorsFile.Read(Path.Combine(one, "samples.safetensors")).Metadata["nfe"], SafetensorsFile.Read(Path.Combine(two, "samples.safetensors")).Metadata["nfe"]);
    }

    [Fact]
    public void AutoConvolutionWithARankThatHasNoBatchFinishes()
    {
        string run = TrainedRun(), outDir = Path.Combine(_dir, "auto");
        // one batch of 4 images: rank 1 has none, yet takes part in each shape's choice
        var job = CatchUpProcess.Mpirun(2, ["sample", "--run", run, "--solver", "euler", "--nfe", "2", "--count", "4", "--batch", "4",
            "--threads", "1", "--conv-algorithm", "auto", "--out", outDir]);
        Assert.True(job.Exit == 0, job.Stdout + job.Stderr);
        Assert.Equal([4, 1, 8, 8], SafetensorsFile.Read(Path.Combine(outDir, "samples.safetensors")).Tensors["x"].Shape);
    }

    private string TrainedRun()
    {
        string model = Path.Combine(_dir, "model.json");
        File.WriteAllText(model, """
            { "img_resolution": 8, "in_channels": 1, "out_channels": 1, "model_channels": 8, "channel_mult": [1, 2],
              "num_blocks": 1, "attn_resolutions": [], "dropout": 0.1, "prior_shakedrop": true }
            """);
        string data = Path.Combine(_dir, "data"), run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(data);
        File.WriteAllBytes(Path.Combine(data, "train-images-idx3-ubyte"), DataFiles.Images(16, 8, 8, i => (byte)(i * 29 % 256)));
        File.WriteAllBytes(Path.Combine(data, "train-labels-idx1-ubyte"), DataFiles.Labels(new byte[16]));
        var trained = CatchUpProcess.Run("train", "--model", model, "--data", data, "--dataset", "mnist", "--iterations", "3", "--batch", "8",
            "--sample-every", "1000", "--threads", "2", "--out", run);
        Assert.True(trained.Exit == 0, trained.Stderr);
        return run;
    }
}
