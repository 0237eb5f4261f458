using System.Diagnostics;
using System.Globalization;
using System.Text;
using CatchUp.Backends.Cpu.Kernels;
using CatchUp.Tensors;

namespace CatchUp.Backends.Cpu;

/// <summary>A 3x3 convolution's shape, as the plan keys it (the batch size is not part of it).</summary>
public readonly record struct ConvShape(int Cin, int Cout, int H, int W)
{
    public override string ToString() => $"{Cin}->{Cout}@{H}x{W}";

    public static ConvShape Parse(string s)
    {
        var parts = s.Split(["->", "@", "x"], StringSplitOptions.None);
        if (parts.Length != 4 || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            throw new FormatException($"bad convolution shape '{s}' (expected CIN->COUT@HxW)");
        return new ConvShape(int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture),
            int.Parse(parts[2], CultureInfo.InvariantCulture), int.Parse(parts[3], CultureInfo.InvariantCulture));
    }
}

/// <summary>What the auto-tuner measured for one shape: per candidate, the median forward+backward time and the
/// forward's error against float64 (max |err| / max |ref| on one sample).</summary>
public sealed record ConvChoice(ConvAlgorithm Algorithm, int Batch, (ConvAlgorithm Algorithm, double Ms, double RelError)[] Candidates);

/// <summary>
/// The CPU backend's per-shape convolution algorithm. With <see cref="Requested"/> = Auto, the first call on a new 3x3
/// shape measures every algorithm on it (forward + backward at the call's batch size, alternating rounds, median) and
/// keeps the fastest whose error against float64 is within <see cref="AccuracyBound"/>; later calls reuse the choice.
/// Choices can be set from a checkpoint (<see cref="Load"/>) so that a resumed run computes exactly as before.
/// </summary>
public sealed class ConvPlan
{
    /// <summary>Largest accepted forward error relative to the output's magnitude (F(4x4,3x3) measures ~1e-6 here).</summary>
    public const double AccuracyBound = 1e-4;

    private readonly Dictionary<ConvShape, ConvChoice> _choices = new();
    private readonly List<ConvShape> _order = new();
    private readonly Dictionary<ConvShape, long> _calls = new();

    /// <summary>Direct by default; the CLI passes <c>--conv-algorithm</c> (default auto).</summary>
    public ConvAlgorithm Requested { get; set; } = ConvAlgorithm.Direct;

    /// <summary>Rounds per candidate when tuning.</summary>
    public int TuneRounds { get; set; } = 3;

    /// <summary>Called after each shape is tuned (e.g. to print it).</summary>
    public Action<ConvShape, ConvChoice>? Tuned { get; set; }

    /// <summary>Every 3x3 shape resolved so far with its number of calls (forward and backward counted apart).</summary>
    public IReadOnlyDictionary<ConvShape, long> Calls => _calls;

    public IEnumerable<(ConvShape Shape, ConvChoice Choice)> Entries => _order.Select(s => (s, _choices[s]));

    public ConvAlgorithm Resolve(CpuBackend backend, Tensor x, Tensor w)
    {
        if (w.Rank != 4 || w.Dim(2) != 3 || x.Rank != 4) return ConvAlgorithm.Direct;
        var shape = new ConvShape(x.C, w.Dim(0), x.H, x.W);
        ref long calls = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_calls, shape, out _);
        calls++;
        if (_choices.TryGetValue(shape, out var c)) return c.Algorithm;
        if (Requested != ConvAlgorithm.Auto) return Requested;
        c = Tune(backend, shape, Math.Max(1, x.N), TuneRounds);
        Set(shape, c);
        Tuned?.Invoke(shape, c);
        return c.Algorithm;
    }

    public void Set(ConvShape shape, ConvChoice choice)
    {
        if (!_choices.ContainsKey(shape)) _order.Add(shape);
        _choices[shape] = choice;
    }

    public void Clear() { _choices.Clear(); _order.Clear(); _calls.Clear(); }

    /// <summary>"64->64@28x28=winograd4;..." for a checkpoint's metadata.</summary>
    public string Serialize() => string.Join(";", Entries.Select(e => $"{e.Shape}={e.Choice.Algorithm.Name()}"));

    /// <summary>Fixes the choices recorded by <see cref="Serialize"/> (shapes not listed follow <see cref="Requested"/>).</summary>
    public void Load(string serialized)
    {
        foreach (var item in serialized.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = item.IndexOf('=');
            if (eq < 0) throw new FormatException($"bad convolution plan entry '{item}'");
            var alg = ConvAlgorithmNames.Parse(item[(eq + 1)..]);
            if (alg == ConvAlgorithm.Auto) throw new FormatException($"convolution plan entry '{item}' is not a concrete algorithm");
            Set(ConvShape.Parse(item[..eq]), new ConvChoice(alg, 0, []));
        }
    }

    /// <summary>One line per shape: the choice and, when tuned here, each candidate's time and error.</summary>
    public static string Describe(ConvShape shape, ConvChoice c)
    {
        var sb = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"conv3x3 {shape,-16} {c.Algorithm.Name(),-9}"));
        if (c.Candidates.Length == 0) sb.Append(" (from checkpoint)");
        else
        {
            sb.Append(CultureInfo.InvariantCulture, $" batch {c.Batch}, fwd+bwd ms:");
            foreach (var (a, ms, err) in c.Candidates) sb.Append(CultureInfo.InvariantCulture, $" {a.Name()} {ms:F2} (err {err:E1})");
        }
        return sb.ToString();
    }

    private static readonly ConvAlgorithm[] Candidates = [ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, ConvAlgorithm.Winograd4];

    /// <summary>Measures every algorithm on one shape (forward + backward with dx, dw, dbias).</summary>
    public static unsafe ConvChoice Tune(CpuBackend be, ConvShape s, int batch, int rounds)
    {
        var pool = be.Pool;
        var rng = new Random(1234);
        Tensor T(params int[] shape)
        {
            var t = be.Allocate(shape);
            var span = t.Span;
            for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1);
            return t;
        }
        using var x = T(batch, s.Cin, s.H, s.W);
        using var w = T(s.Cout, s.Cin, 3, 3);
        using var b = T(s.Cout);
        using var y = T(batch, s.Cout, s.H, s.W);
        using var dy = T(batch, s.Cout, s.H, s.W);
        using var dx = T(batch, s.Cin, s.H, s.W);
        using var dw = T(s.Cout, s.Cin, 3, 3);
        using var db = T(s.Cout);

        // accuracy: the forward on the first sample against float64
        using var x1 = be.Allocate([1, s.Cin, s.H, s.W]);
        x.Span[..x1.Length].CopyTo(x1.Span);
        using var y1 = be.Allocate([1, s.Cout, s.H, s.W]);
        double[] reference = ReferenceForward(x1.Span, w.Span, b.Span, s);
        var errors = new double[Candidates.Length];
        for (int a = 0; a < Candidates.Length; a++)
        {
            Conv2dKernels.Forward(pool, x1, w, b, y1, Candidates[a]);
            double max = 0, err = 0;
            var got = y1.Span;
            for (int i = 0; i < reference.Length; i++)
            {
                max = Math.Max(max, Math.Abs(reference[i]));
                double e = Math.Abs(got[i] - reference[i]);
                err = double.IsNaN(e) ? double.PositiveInfinity : Math.Max(err, e);
            }
            errors[a] = err / Math.Max(max, 1e-30);
        }

        var times = new double[Candidates.Length][];
        for (int a = 0; a < Candidates.Length; a++) times[a] = new double[rounds];
        for (int r = -1; r < rounds; r++) // round -1 warms up
            for (int a = 0; a < Candidates.Length; a++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Conv2dKernels.Forward(pool, x, w, b, y, Candidates[a]);
                Conv2dKernels.Backward(pool, x, w, dy, dx, dw, db, Candidates[a]);
                if (r >= 0) times[a][r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
        var cands = new (ConvAlgorithm, double, double)[Candidates.Length];
        int best = 0;
        for (int a = 0; a < Candidates.Length; a++)
        {
            Array.Sort(times[a]);
            double med = times[a][rounds / 2];
            cands[a] = (Candidates[a], med, errors[a]);
            if (errors[a] <= AccuracyBound && (errors[best] > AccuracyBound || med < cands[best].Item2)) best = a;
        }
        return new ConvChoice(Candidates[best], batch, cands);
    }

    /// <summary>Plain float64 3x3 pad-1 convolution of one sample.</summary>
    private static double[] ReferenceForward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvShape s)
    {
        var y = new double[s.Cout * s.H * s.W];
        for (int co = 0; co < s.Cout; co++)
            for (int oy = 0; oy < s.H; oy++)
                for (int ox = 0; ox < s.W; ox++)
                {
                    double acc = b[co];
                    for (int ci = 0; ci < s.Cin; ci++)
                        for (int ky = 0; ky < 3; ky++)
                        {
                            int iy = oy + ky - 1;
                            if ((uint)iy >= (uint)s.H) continue;
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int ix = ox + kx - 1;
                                if ((uint)ix >= (uint)s.W) continue;
                                acc += (double)w[((co * s.Cin + ci) * 3 + ky) * 3 + kx] * x[(ci * s.H + iy) * s.W + ix];
                            }
                        }
                    y[(co * s.H + oy) * s.W + ox] = acc;
                }
        return y;
    }
}
