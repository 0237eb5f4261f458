using CatchUp.Backends.Cpu;
using CatchUp.Distillation;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Objectives;
using CatchUp.Tensors;
using Xunit;
using static CatchUp.Tests.Models.NetworkTestKit;

namespace CatchUp.Tests.Distillation;

[Collection("Console")]
public class OneStepDistillerTests
{
    private static readonly SongUNetConfig Tiny = SongUNetConfig.TestTiny with { ExtraHeads = 0 };

    [Fact]
    public void TargetsAreTheEuler16X0EstimatesAtSteps8_11_14()
    {
        using var b = new CpuBackend(2);
        using var teacher = new SongUNet(Tiny, b);
        using var student = new SongUNet(Tiny, b);
        using var ema = new SongUNet(Tiny, b);
        Randomize(teacher.Parameters, 3);
        var o = new DistillOptions { Count = 5, Batch = 3, Seed = 9 };
        var distiller = new OneStepDistiller(student, ema, o);
        distiller.GenerateTargets(teacher);

        // By hand: z_{i+1} = z_i - v(z_i, t_i)/16 with t_i = (16 - i)/16; x0_hat_i = z_i - t_i v(z_i, t_i).
        var noise = new float[5 * 128];
        StepRandomness.FillNormal(CounterRng.Hash(9, 0xD157UL), noise);
        Assert.Equal(noise, distiller.Noise);
        using var z = b.FromArray(noise, 5, 2, 8, 8);
        using var t = b.Allocate([5]);
        var zh = noise.ToArray();
        for (int i = 0; i < 16; i++)
        {
            float ti = (16 - i) / 16f;
            b.Fill(t, ti);
            b.Upload(zh, z);
            var v = teacher.Forward(z, t, ForwardMode.Inference, computeHeads: false).V.ToArray();
            int stage = Array.IndexOf(o.TargetSteps, i);
            if (stage >= 0)
            {
                var expected = zh.Select((zi, k) => zi - ti * v[k]).ToArray();
                double err = RelativeError(distiller.Targets[stage], expected);
                Assert.True(err < 1e-5, $"step {i} targets: relative error {err:E2}");
            }
            for (int k = 0; k < zh.Length; k++) zh[k] -= v[k] / 16f;
        }
    }

    [Fact]
    public void ThreeStagesReduceTheOneStepError()
    {
        using var b = new CpuBackend(2);
        using var teacher = new SongUNet(Tiny, b);
        Randomize(teacher.Parameters, 3);
        using var student = new SongUNet(Tiny, b);
        using var ema = new SongUNet(Tiny, b);
        foreach (var net in new[] { student, ema })
            for (int i = 0; i < net.Parameters.Count; i++) b.Copy(teacher.Parameters.All[i].Value, net.Parameters.All[i].Value);
        var o = new DistillOptions { Count = 32, Batch = 16, IterationsPerStage = 40, LearningRate = 2e-3f, Sam = true, EmaDecay = 0.5f };
        var distiller = new OneStepDistiller(student, ema, o);
        distiller.GenerateTargets(teacher);
        double before = distiller.OneStepError(teacher, 2);
        var stageLoss = distiller.Train();
        double after = distiller.OneStepError(student, 2);
        Assert.Equal(3, stageLoss.Length);
        Assert.All(stageLoss, l => Assert.True(double.IsFinite(l)));
        Assert.True(after < 0.5 * before, $"one-step error {before:F4} -> {after:F4}");
    }

    [Fact]
    public void DistillCommandRejectsAMissingRun()
    {
        var err = new StringWriter();
        var previous = Console.Error;
        Console.SetError(err);
        int exit;
        try { exit = CatchUp.Cli.CliApp.Run(["distill", "--run", "/nonexistent/run", "--out", Path.GetTempPath()]); }
        finally { Console.SetError(previous); }
        Assert.Equal(1, exit);
        Assert.Contains("/nonexistent/run", err.ToString());
    }
}
