using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Backends;

/// <summary>
/// A backend's SongUNet against the PyTorch reference (tests/golden/songunet_small*, produced by make_golden.py in
/// float64): forward outputs, the loss, dL/dx and dL/dparam of the small decoder (attention, dynamic skip, both
/// resamplings, two heads). An absolute check, independent of the CPU backend; used by the golden tests and by
/// <c>catchup selftest --golden DIR</c> on GPU machines.
/// </summary>
public static class PyTorchGoldenCheck
{
    public const double Tolerance = 1e-4;
    public const string Config = "songunet_small.json", Weights = "songunet_small_weights.safetensors", Io = "songunet_small_io.safetensors";

    /// <summary>One result per group of outputs: forward, loss, input gradient, parameter gradients.</summary>
    public static List<ConformanceResult> SmallDecoder(IBackend backend, string dir)
    {
        var config = SongUNetConfig.Load(Path.Combine(dir, Config));
        using var net = new SongUNet(config, backend);
        string weights = Path.Combine(dir, Weights);
        StateDict.Load(net.Parameters, SafetensorsFile.Read(weights).Tensors, weights);
        var io = SafetensorsFile.Read(Path.Combine(dir, Io));
        var owned = new List<Tensor>();
        Tensor Up(string key) { var h = io.Get(key); var t = backend.FromArray(h.Data, h.Shape); owned.Add(t); return t; }
        Tensor Zeros(ReadOnlySpan<int> shape) { var t = backend.Allocate(shape); owned.Add(t); return t; }
        try
        {
            var output = net.Forward(Up("x"), Up("t"), new ForwardMode(SaveForBackward: true, Dropout: false, Seed: 0));
            var results = new List<ConformanceResult>
            {
                Result("golden-forward", [("v", output.V.ToArray()), ("features", output.Features.ToArray()),
                    ("head2", output.Heads[0].ToArray()), ("head3", output.Heads[1].ToArray())], io),
            };

            // L = mse(v, tv) + mse(h2, t2) + mse(h3, t3) + mean(features * tf)
            var dv = Zeros(output.V.Shape); var dh2 = Zeros(output.V.Shape); var dh3 = Zeros(output.V.Shape);
            double loss = backend.MseLoss(output.V, Up("target_v"), dv, 1f) + backend.MseLoss(output.Heads[0], Up("target2"), dh2, 1f)
                + backend.MseLoss(output.Heads[1], Up("target3"), dh3, 1f);
            var tf = io.Get("target_f");
            var features = output.Features.ToArray();
            double featureTerm = 0;
            for (int i = 0; i < features.Length; i++) featureTerm += features[i] * (double)tf.Data[i];
            loss += featureTerm / features.Length;
            results.Add(Result("golden-loss", [("loss", [(float)loss])], io));

            var dFeatures = backend.FromArray(tf.Data.Select(v => v / features.Length).ToArray(), tf.Shape);
            owned.Add(dFeatures);
            net.Parameters.ZeroGrad();
            var dx = net.Backward(dv, [dh2, dh3], dFeatures, needInputGrad: true)!;
            results.Add(Result("golden-grad-x", [("grad_x", dx.ToArray())], io));
            results.Add(Result("golden-grad-params", net.Parameters.All.Select(p => ("grad." + p.Name, p.Grad.ToArray())).ToList(), io));
            return results;
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    private static ConformanceResult Result(string check, List<(string Name, float[] Values)> actual, SafetensorsFile io)
    {
        var expected = actual.Select(a => (a.Name, io.Get(a.Name).Data)).ToList();
        var (error, worst) = BackendConformance.Compare(expected, actual);
        return new ConformanceResult(check, error, Tolerance, worst);
    }
}
