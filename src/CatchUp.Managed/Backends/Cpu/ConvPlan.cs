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

/// <summary>One candidate as the auto-tuner measured it: median milliseconds of the forward, backward-data and
/// backward-weight passes, and the forward's error against float64 (max |err| / max |ref| on one sample).</summary>
public readonly record struct ConvTiming(ConvAlgorithm Algorithm, double ForwardMs, double DataMs, double WeightMs, double RelError);

/// <summary>The algorithms used for one shape, per pass, and (when tuned here) what was measured.
/// <see cref="Note"/> says where a choice not measured in this process comes from (the machine's cache).</summary>
public sealed record ConvChoice(ConvAlgorithm Forward, ConvAlgorithm Data, ConvAlgorithm Weight, int Batch, ConvTiming[] Candidates, string? Note = null)
{
    public static ConvChoice All(ConvAlgorithm a) => new(a, a, a, 0, []);

    /// <summary>"winograd4" when all passes agree, else "forward/data/weight".</summary>
    public string Name => Forward == Data && Data == Weight ? Forward.Name() : $"{Forward.Name()}/{Data.Name()}/{Weight.Name()}";

    public static ConvChoice Parse(string s)
    {
        var parts = s.Split('/');
        if (parts.Length != 1 && parts.Length != 3) throw new FormatException($"bad convolution choice '{s}'");
        var algs = parts.Select(ConvAlgorithmNames.Parse).ToArray();
        if (algs.Contains(ConvAlgorithm.Auto)) throw new FormatException($"convolution choice '{s}' is not a concrete algorithm");
        return parts.Length == 1 ? All(algs[0]) : new ConvChoice(algs[0], algs[1], algs[2], 0, []);
    }
}

/// <summary>
/// The CPU backend's per-shape convolution algorithm. With <see cref="Requested"/> = Auto, the first call on a new 3x3
/// shape measures every algorithm on it (forward, backward-data and backward-weight apart, at the call's batch size,
/// alternating rounds, median) and keeps for each pass the fastest whose forward error against float64 is within
/// <see cref="AccuracyBound"/>; later calls reuse the choice.
/// Choices can be set from a checkpoint (<see cref="Load"/>) so that a resumed run computes exactly as before.
/// </summary>
public sealed class ConvPlan
{
    /// <summary>Largest accepted forward error relative to the output's magnitude (F(4x4,3x3) measures ~1e-6 here).</summary>
    public const double AccuracyBound = 1e-4;

    private readonly Dictionary<ConvShape, ConvChoice> _choices = new();
    private readonly List<ConvShape> _order = new();
    private readonly Dictionary<ConvShape, long> _calls = new();

    /// <summary>Direct by default; the CLI passes <c>--conv-algorithm</c>.</summary>
    public ConvAlgorithm Requested { get; set; } = ConvAlgorithm.Direct;

    /// <summary>Rounds per candidate when tuning.</summary>
    public int TuneRounds { get; set; } = 5;

    /// <summary>Called after each shape is tuned (e.g. to print it).</summary>
    public Action<ConvShape, ConvChoice>? Tuned { get; set; }

    /// <summary>Several processes: given a new shape and the tuning, returns the choice every process uses (rank 0
    /// tunes, the others receive its choice). A collective call, made at the first call of each shape, which every
    /// process meets in the same order (<see cref="Distributed.ConvPlanAgreement"/>).</summary>
    public Func<ConvShape, Func<ConvChoice>, ConvChoice>? Agree { get; set; }

    /// <summary>Every 3x3 shape resolved so far with its number of calls (forward and backward counted apart).</summary>
    public IReadOnlyDictionary<ConvShape, long> Calls => _calls;

    /// <summary>The plan of the CPU backend behind <paramref name="backend"/>, or null for other backends.</summary>
    public static ConvPlan? Of(IBackend backend) => CpuBackend.Find(backend)?.ConvPlan;

    public IEnumerable<(ConvShape Shape, ConvChoice Choice)> Entries => _order.Select(s => (s, _choices[s]));

    private static readonly ConvChoice[] Fixed = Enum.GetValues<ConvAlgorithm>().Select(ConvChoice.All).ToArray();

    public ConvChoice Resolve(CpuBackend backend, Tensor x, Tensor w)
    {
        if (w.Rank != 4 || w.Dim(2) != 3 || x.Rank != 4) return Fixed[(int)ConvAlgorithm.Direct];
        var shape = new ConvShape(x.C, w.Dim(0), x.H, x.W);
        ref long calls = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_calls, shape, out _);
        calls++;
        if (_choices.TryGetValue(shape, out var c)) return c;
        if (Requested != ConvAlgorithm.Auto) return Fixed[(int)Requested];
        c = Choose(backend, shape, Math.Max(1, x.N));
        Set(shape, c);
        Tuned?.Invoke(shape, c);
        return c;
    }

    /// <summary>Where choices measured on this machine are kept and looked up first (null: measure in every process).</summary>
    public ConvPlanCache? Cache { get; set; }

    // Apart from Resolve: the lambda's closure would otherwise be allocated on every call of Resolve.
    private ConvChoice Choose(CpuBackend backend, ConvShape shape, int batch) =>
        Agree is null ? RecallOrTune(backend, shape, batch) : Agree(shape, () => RecallOrTune(backend, shape, batch));

    private ConvChoice RecallOrTune(CpuBackend backend, ConvShape shape, int batch)
    {
        if (Cache?.Find(shape) is { } cached) return cached;
        var tuned = Tune(backend, shape, batch, TuneRounds);
        return Cache?.Store(shape, tuned, backend.Threads) ?? tuned;
    }

    public void Set(ConvShape shape, ConvChoice choice)
    {
        if (!_choices.ContainsKey(shape)) _order.Add(shape);
        _choices[shape] = choice;
    }

    public void Clear() { _choices.Clear(); _order.Clear(); _calls.Clear(); }

    /// <summary>"64->64@28x28=winograd4;128->64@7x7=direct/winograd2/direct;..." for a checkpoint's metadata. A fixed
    /// <see cref="Requested"/> algorithm is recorded for every shape called, so that a resume under <c>auto</c> keeps
    /// computing as the run did.</summary>
    public string Serialize() => string.Join(";", Entries.Select(e => $"{e.Shape}={e.Choice.Name}")
        .Concat(Requested == ConvAlgorithm.Auto ? [] : _calls.Keys.Where(s => !_choices.ContainsKey(s)).Select(s => $"{s}={Requested.Name()}")));

    /// <summary>Fixes the choices recorded by <see cref="Serialize"/> (shapes not listed follow <see cref="Requested"/>).</summary>
    public void Load(string serialized)
    {
        foreach (var item in serialized.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = item.IndexOf('=');
            if (eq < 0) throw new FormatException($"bad convolution plan entry '{item}'");
            ConvChoice choice;
            try { choice = ConvChoice.Parse(item[(eq + 1)..]); }
            catch (ArgumentException e) { throw new FormatException(e.Message); }
            Set(ConvShape.Parse(item[..eq]), choice);
        }
    }

    /// <summary>One line per shape: the choice and, when tuned here, each candidate's times and error.</summary>
    public static string Describe(ConvShape shape, ConvChoice c)
    {
        var sb = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"conv3x3 {shape,-15} {c.Name,-26}"));
        if (c.Candidates.Length == 0) sb.Append(' ').Append(c.Note ?? "(recorded)");
        else
        {
            sb.Append(CultureInfo.InvariantCulture, $" batch {c.Batch}, ms fwd/data/wgt:");
            foreach (var t in c.Candidates)
                sb.Append(CultureInfo.InvariantCulture, $" {t.Algorithm.Name()} {t.ForwardMs:F2}/{t.DataMs:F2}/{t.WeightMs:F2} (err {t.RelError:E0})");
        }
        return sb.ToString();
    }

    private static readonly ConvAlgorithm[] Candidates = [ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, ConvAlgorithm.Winograd4];

    /// <summary>Measures every algorithm on one shape: each pass apart, the candidates alternating within a round.</summary>
    public static ConvChoice Tune(CpuBackend be, ConvShape s, int batch, int rounds)
    {
        var pool = be.Pool;
        using var ws = new ConvWorkspace(be, s, batch, new Random(1234));
        var (x, w, b, y, dy, dx, dw, db) = (ws.X, ws.W, ws.B, ws.Y, ws.Dy, ws.Dx, ws.Dw, ws.Db);

        // accuracy: the forward on the first sample against float64
        using var x1 = be.Allocate([1, s.Cin, s.H, s.W]);
        x.Span[..x1.Length].CopyTo(x1.Span);
        using var y1 = be.Allocate([1, s.Cout, s.H, s.W]);
        double[] reference = ConvReference.Forward(x1.Span, w.Span, b.Span, 1, s.Cin, s.Cout, s.H, s.W, 3);
        var errors = new double[Candidates.Length];
        for (int a = 0; a < Candidates.Length; a++)
        {
            Conv2dKernels.Forward(pool, x1, w, b, y1, Candidates[a]);
            errors[a] = ConvReference.RelativeError(reference, y1.Span);
        }

        var ms = new double[Candidates.Length, 3, rounds];
        for (int r = -1; r < rounds; r++) // round -1 warms up
            for (int a = 0; a < Candidates.Length; a++)
            {
                var (f, d, wg) = TimePasses(pool, x, w, b, y, dy, dx, dw, db, Candidates[a]);
                if (r < 0) continue;
                ms[a, 0, r] = f; ms[a, 1, r] = d; ms[a, 2, r] = wg;
            }
        var timings = new ConvTiming[Candidates.Length];
        var best = new int[3];
        for (int a = 0; a < Candidates.Length; a++)
        {
            var med = new double[3];
            for (int p = 0; p < 3; p++)
            {
                var v = new double[rounds];
                for (int r = 0; r < rounds; r++) v[r] = ms[a, p, r];
                Array.Sort(v);
                med[p] = v[rounds / 2];
            }
            timings[a] = new ConvTiming(Candidates[a], med[0], med[1], med[2], errors[a]);
        }
        for (int p = 0; p < 3; p++)
            for (int a = 1; a < Candidates.Length; a++)
                if (errors[a] <= AccuracyBound && Pass(timings[a], p) < Pass(timings[best[p]], p)) best[p] = a;
        return new ConvChoice(Candidates[best[0]], Candidates[best[1]], Candidates[best[2]], batch, timings);
    }

    private static double Pass(in ConvTiming t, int p) => p == 0 ? t.ForwardMs : p == 1 ? t.DataMs : t.WeightMs;

    /// <summary>Milliseconds of one forward, one backward-data and one backward-weight (with dbias) pass.</summary>
    public static (double Forward, double Data, double Weight) TimePasses(WorkerPool pool, Tensor x, Tensor w, Tensor b, Tensor y,
        Tensor dy, Tensor dx, Tensor dw, Tensor db, ConvAlgorithm alg)
    {
        long t0 = Stopwatch.GetTimestamp();
        Conv2dKernels.Forward(pool, x, w, b, y, alg);
        long t1 = Stopwatch.GetTimestamp();
        Conv2dKernels.BenchDataOnly = true;
        try { Conv2dKernels.Backward(pool, x, w, dy, dx, dw, null, alg); }
        finally { Conv2dKernels.BenchDataOnly = false; }
        long t2 = Stopwatch.GetTimestamp();
        Conv2dKernels.Backward(pool, x, w, dy, null, dw, db, alg);
        long t3 = Stopwatch.GetTimestamp();
        return (Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds, Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds,
            Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds);
    }
}
