using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>
/// Adaptive Dormand-Prince 5(4) with first-same-as-last, integrated from t = 1 down to <see cref="SolverSettings.EndTime"/>
/// (SPEC: 1e-3) as scipy's <c>solve_ivp(method="RK45")</c> does it: the 5th-order solution is propagated, the error is
/// h * sum_j E_j k_j, its norm is the RMS over every element of the batch of err / (atol + rtol * max(|z|, |z_new|)),
/// a step is accepted when that norm is below 1, and the next step is h * min(10, 0.9 * norm^(-1/5)) after an accepted
/// step (at most h right after a rejection) or h * max(0.2, 0.9 * norm^(-1/5)) after a rejected one. The first step
/// comes from scipy's <c>select_initial_step</c> (one NFE). The last velocity, v(z, EndTime), is already known, so one
/// Euler step then ends at t = 0 without another evaluation (local error O(EndTime^2)). All samples of a batch share
/// the step sizes; NFE = 2 + 6 per attempted step.
/// </summary>
public sealed class DormandPrinceSolver : OdeSolver
{
    private static readonly double[] C = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1];
    private static readonly double[][] A =
    [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
    ];
    private static readonly double[] B = [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84];
    private static readonly double[] E = [-71.0 / 57600, 0, 71.0 / 16695, -71.0 / 1920, 17253.0 / 339200, -22.0 / 525, 1.0 / 40];
    private const double Safety = 0.9, MinFactor = 0.2, MaxFactor = 10, ErrorExponent = -1.0 / 5;

    private readonly SolverSettings _s;
    private float[] _hostZ = [], _hostNew = [], _hostErr = [];

    public DormandPrinceSolver(SolverSettings settings)
    {
        settings.Validate();
        _s = settings;
    }

    public override string Name => "rk45";

    /// <summary>Accepted and rejected steps of the last solve (the final Euler step not included).</summary>
    public int AcceptedSteps { get; private set; }
    public int RejectedSteps { get; private set; }

    protected override void Integrate(Tensor z, TrajectoryRecorder? recorder)
    {
        Span<Tensor> k = [Scratch(0, z), Scratch(1, z), Scratch(2, z), Scratch(3, z), Scratch(4, z), Scratch(5, z), Scratch(6, z)];
        var stage = Scratch(7, z);
        if (_hostZ.Length != z.Length) (_hostZ, _hostNew, _hostErr) = (new float[z.Length], new float[z.Length], new float[z.Length]);
        AcceptedSteps = RejectedSteps = 0;
        double t = 1, end = _s.EndTime;
        Evaluate(z, t, k[0]);
        double hAbs = InitialStep(z, k[0], stage, k[1], t - end);
        bool rejectedLast = false;
        while (t > end)
        {
            if (hAbs < 10 * (t - Math.BitDecrement(t)))
                throw new InvalidOperationException($"rk45: the step size fell to {hAbs:E2} at t = {t:G6}; the tolerances cannot be met (is the field finite?)");
            if (Nfe + 6 > _s.MaxNfe)
                throw new InvalidOperationException($"rk45: more than {_s.MaxNfe} NFE before reaching t = {end} (stuck at t = {t:G6}); loosen rtol/atol");
            bool last = hAbs >= t - end;
            double h = last ? -(t - end) : -hAbs, tNew = last ? end : t + h;

            for (int s = 1; s <= 5; s++)
            {
                Combine(z, h, A[s], k, stage);
                Evaluate(stage, t + C[s] * h, k[s]);
            }
            Combine(z, h, B, k, stage);                                     // 5th-order solution
            Evaluate(stage, tNew, k[6]);
            Backend.Fill(k[1], 0f);                                         // k_2 has weight 0 in B and E: reuse it for the error
            for (int j = 0; j < E.Length; j++)
                if (E[j] != 0 && j != 1) Backend.Axpby((float)(h * E[j]), k[j], 1f, k[1]);
            double norm = ErrorNorm(z, stage, k[1]);

            if (norm < 1)
            {
                double factor = norm == 0 ? MaxFactor : Math.Min(MaxFactor, Safety * Math.Pow(norm, ErrorExponent));
                if (rejectedLast) factor = Math.Min(1, factor);
                recorder?.Step(z, t, k[0]);
                Backend.Copy(stage, z);
                (k[0], k[6]) = (k[6], k[0]);                                // first same as last
                t = tNew;
                hAbs = Math.Abs(h) * factor;
                rejectedLast = false;
                AcceptedSteps++;
            }
            else
            {
                hAbs = Math.Abs(h) * (double.IsFinite(norm) ? Math.Max(MinFactor, Safety * Math.Pow(norm, ErrorExponent)) : MinFactor);
                rejectedLast = true;
                RejectedSteps++;
            }
        }
        if (end > 0)
        {
            recorder?.Step(z, end, k[0]);
            Backend.Axpby((float)-end, k[0], 1f, z);
        }
    }

    /// <summary>destination = z + h * sum_j coefficients[j] k_j.</summary>
    private void Combine(Tensor z, double h, double[] coefficients, ReadOnlySpan<Tensor> k, Tensor destination)
    {
        Backend.Copy(z, destination);
        for (int j = 0; j < coefficients.Length; j++)
            if (coefficients[j] != 0) Backend.Axpby((float)(h * coefficients[j]), k[j], 1f, destination);
    }

    /// <summary>RMS over all elements of err / (atol + rtol * max(|z|, |zNew|)).</summary>
    private double ErrorNorm(Tensor z, Tensor zNew, Tensor err)
    {
        Backend.Download(z, _hostZ);
        Backend.Download(zNew, _hostNew);
        Backend.Download(err, _hostErr);
        double sum = 0;
        for (int i = 0; i < _hostZ.Length; i++)
        {
            double scale = _s.AbsoluteTolerance + _s.RelativeTolerance * Math.Max(Math.Abs(_hostZ[i]), Math.Abs(_hostNew[i]));
            double e = _hostErr[i] / scale;
            sum += e * e;
        }
        return Math.Sqrt(sum / _hostZ.Length);
    }

    /// <summary>scipy's select_initial_step (Hairer, Norsett and Wanner, II.4) for an error estimator of order 4; one NFE.</summary>
    private double InitialStep(Tensor z, Tensor v0, Tensor probe, Tensor v1, double interval)
    {
        Backend.Download(z, _hostZ);
        Backend.Download(v0, _hostNew);
        double d0 = 0, d1 = 0;
        for (int i = 0; i < _hostZ.Length; i++)
        {
            double scale = _s.AbsoluteTolerance + _s.RelativeTolerance * Math.Abs(_hostZ[i]);
            d0 += Square(_hostZ[i] / scale);
            d1 += Square(_hostNew[i] / scale);
        }
        d0 = Math.Sqrt(d0 / _hostZ.Length);
        d1 = Math.Sqrt(d1 / _hostZ.Length);
        double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
        h0 = Math.Min(h0, interval);
        Backend.Copy(z, probe);
        Backend.Axpby((float)-h0, v0, 1f, probe);
        Evaluate(probe, 1 - h0, v1);
        Backend.Download(v1, _hostErr);
        double d2 = 0;
        for (int i = 0; i < _hostZ.Length; i++)
            d2 += Square((_hostErr[i] - _hostNew[i]) / (_s.AbsoluteTolerance + _s.RelativeTolerance * Math.Abs(_hostZ[i])));
        d2 = Math.Sqrt(d2 / _hostZ.Length) / h0;
        double h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.Max(1e-6, h0 * 1e-3) : Math.Pow(0.01 / Math.Max(d1, d2), 1.0 / 5);
        return Math.Min(Math.Min(100 * h0, h1), interval);
    }

    private static double Square(double x) => x * x;
}
