// Gradient checks against float64. LibTorch's float64 convolutions never go to oneDNN (it has no f64 convolution), so
// the same LibTorch graph in float64 is an independent reference for the float32 (oneDNN) path.
//
// Error measure: max |a - ref| / max |ref| over the tensor (a normwise relative error; an elementwise one is noise for
// entries near zero). float32 gives ~1e-7..1e-5 here; oneDNN's wrong backward-data gives O(1).
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CatchUp.LibTorchBench;

public readonly record struct ConvCheck(bool Ok, double OutRelErr, double DxRelErr, double DwRelErr, double DbRelErr);

public static class GradCheck
{
    public const double ConvTol = 1e-4, NetTol = 1e-3;

    static double RelErr(Tensor a, Tensor reference)
    {
        using var scope = torch.NewDisposeScope();
        var r = reference.to_type(ScalarType.Float64);
        double den = r.abs().max().item<double>();
        double num = (a.to_type(ScalarType.Float64) - r).abs().max().item<double>();
        return den == 0 ? num : num / den;
    }

    static string E(double v) => v.ToString("0.00e+00", CultureInfo.InvariantCulture);

    /// <summary>y = conv3x3(x, w) + b, [B, cin, R, R] -> [B, cout, R, R], L = sum(y * g) with random g: float32 in
    /// <paramref name="mode"/> against the plain conv in float64.</summary>
    public static ConvCheck CheckConv(int B, int cin, int cout, int R, AuxConv mode, bool quiet)
    {
        using var scope = torch.NewDisposeScope();
        var gen = new torch.Generator(1234);
        var x = torch.randn([B, cin, R, R], generator: gen).requires_grad_();
        var w = (torch.randn([cout, cin, 3, 3], generator: gen) / Math.Sqrt(cin * 9)).requires_grad_();
        var b = torch.randn([cout], generator: gen).requires_grad_();
        var g = torch.randn([B, cout, R, R], generator: gen);

        var y = Conv2d.Conv(x, w, mode) + b.reshape(1, -1, 1, 1);
        (y * g).sum().backward();

        var x64 = x.detach().to_type(ScalarType.Float64).requires_grad_();
        var w64 = w.detach().to_type(ScalarType.Float64).requires_grad_();
        var b64 = b.detach().to_type(ScalarType.Float64).requires_grad_();
        var y64 = F.conv2d(x64, w64, padding: [1, 1]) + b64.reshape(1, -1, 1, 1);
        (y64 * g.to_type(ScalarType.Float64)).sum().backward();

        var c = new ConvCheck(false, RelErr(y, y64), RelErr(x.grad!, x64.grad!), RelErr(w.grad!, w64.grad!), RelErr(b.grad!, b64.grad!));
        c = c with { Ok = c.OutRelErr < ConvTol && c.DxRelErr < ConvTol && c.DwRelErr < ConvTol && c.DbRelErr < ConvTol };
        if (!quiet)
            Console.WriteLine($"conv3x3 {cin}->{cout,-3} @{R}x{R} batch {B}, {Program.Name(mode),-5}: rel err y {E(c.OutRelErr)}  dL/dx {E(c.DxRelErr)}  " +
                              $"dL/dw {E(c.DwRelErr)}  dL/db {E(c.DbRelErr)}  {(c.Ok ? "ok" : "WRONG")}");
        return c;
    }

    /// <summary>The workaround's cost: forward + backward (dL/dx, dL/dw, dL/db) of the output conv alone, plain and pad16,
    /// median of 10 after 2 warm-ups, in ms (float32, this process's thread setting).</summary>
    static void TimeConv(int B, int cin, int cout, int R)
    {
        var ms = new Dictionary<AuxConv, double>();
        foreach (var mode in new[] { AuxConv.Plain, AuxConv.Pad16 })
        {
            using var scope = torch.NewDisposeScope();
            var gen = new torch.Generator(99);
            var x = torch.randn([B, cin, R, R], generator: gen).requires_grad_();
            var w = (torch.randn([cout, cin, 3, 3], generator: gen) / Math.Sqrt(cin * 9)).requires_grad_();
            var b = torch.randn([cout], generator: gen).requires_grad_();
            var g = torch.randn([B, cout, R, R], generator: gen);
            var t = new List<double>();
            for (int i = 0; i < 12; i++)
            {
                using var inner = torch.NewDisposeScope();
                x.grad = null; w.grad = null; b.grad = null;
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                var y = Conv2d.Conv(x, w, mode) + b.reshape(1, -1, 1, 1);
                (y * g).sum().backward();
                if (i >= 2) t.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            t.Sort();
            ms[mode] = (t[4] + t[5]) / 2;
        }
        Console.WriteLine($"output conv {cin}->{cout} forward+backward, batch {B}: plain {ms[AuxConv.Plain]:F2} ms, pad16 {ms[AuxConv.Pad16]:F2} ms " +
                          $"(workaround cost {ms[AuxConv.Pad16] - ms[AuxConv.Plain]:F2} ms per network pass; median of 10)");
    }

    /// <summary>--check: the output conv (and neighbouring channel counts, to show the pattern) and the whole network.
    /// True when everything in the configured mode is right.</summary>
    public static bool Run(SongUNet model, int B, AuxConv mode)
    {
        var cfg = model.Cfg;
        int R = cfg.ImgResolution, C = cfg.ModelChannels * cfg.ChannelMult[0];
        bool ok = true;

        Console.WriteLine($"== single 3x3 convolutions {C}->Cout, float32 vs float64 (tolerance {E(ConvTol)})");
        foreach (int cout in new[] { 1, 2, 3, 8, 15, 16, 17, 24, 32 })
            CheckConv(B, C, cout, R, AuxConv.Plain, quiet: false);
        var aux = CheckConv(B, C, cfg.OutChannels, R, mode, quiet: false);
        if (mode != AuxConv.Plain)
            CheckConv(B, C, 3, R, mode, quiet: false);
        TimeConv(B, C, cfg.OutChannels, R);
        if (!aux.Ok)
        {
            Console.WriteLine($"FAIL: the output conv ({C}->{cfg.OutChannels}) has a wrong gradient with --aux-conv {Program.Name(mode)}");
            ok = false;
        }

        Console.WriteLine($"== whole network (eval mode: no dropout), MSE loss, float32 (aux-conv {Program.Name(mode)}) vs the same parameters in float64 (tolerance {E(NetTol)})");
        using (var scope = torch.NewDisposeScope())
        {
            var ref64 = new SongUNet(cfg, ScalarType.Float64) { AuxConvMode = AuxConv.Plain, Training = false };
            ref64.LoadFrom(model);
            bool wasTraining = model.Training;
            model.Training = false;
            var gen = new torch.Generator(4321);
            var x = torch.randn([B, cfg.InChannels, R, R], generator: gen).requires_grad_();
            var t = torch.rand([B], generator: gen) * (1 - 1e-5) + 1e-5;
            var target = torch.randn([B, cfg.OutChannels, R, R], generator: gen);
            foreach (var p in model.Parameters()) p.grad = null;
            var v = model.Forward(x, t);
            F.mse_loss(v, target).backward();

            var x64 = x.detach().to_type(ScalarType.Float64).requires_grad_();
            var v64 = ref64.Forward(x64, t.to_type(ScalarType.Float64));
            F.mse_loss(v64, target.to_type(ScalarType.Float64)).backward();
            model.Training = wasTraining;

            var rows = new List<(string Name, double Err)> { ("v (forward)", RelErr(v, v64)), ("dL/dx", RelErr(x.grad!, x64.grad!)) };
            string[] shown = ["map_layer0.weight", "enc.28x28_conv.weight", "enc.28x28_block0.conv0.weight", "dec.7x7_in0.qkv.weight",
                              "dec.28x28_block2.conv1.weight", "dec.28x28_aux_conv.weight", "dec.28x28_aux_conv.bias"];
            (string Name, double Err) worst = ("", -1);
            foreach (var ((name, p), (_, q)) in model.Params.All.Zip(ref64.Params.All))
            {
                double e = RelErr(p.grad!, q.grad!);
                if (shown.Contains(name)) rows.Add(($"dL/d {name}", e));
                if (e > worst.Err) worst = (name, e);
            }
            rows.Add(($"dL/dparam, worst of all {model.Params.All.Count} ({worst.Name})", worst.Err));
            foreach (var (name, e) in rows)
            {
                bool rowOk = e < NetTol;
                ok &= rowOk;
                Console.WriteLine($"  {name,-58} rel err {E(e)}  {(rowOk ? "ok" : "WRONG")}");
            }
            foreach (var p in model.Parameters()) p.grad = null;
        }
        Console.WriteLine(ok ? "CHECK PASSED" : "CHECK FAILED: LibTorch's gradients are wrong in this configuration; do not time it");
        return ok;
    }
}
