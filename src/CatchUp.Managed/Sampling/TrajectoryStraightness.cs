namespace CatchUp.Sampling;

/// <summary>
/// Straightness of a sampled trajectory z_0..z_S at times t_0 = 1 > ... > t_S = 0 (SPEC section 7):
/// mean over steps i of MSE((z_{i-1} - z_i) / dt_i, z_first - z_last), dt_i = t_{i-1} - t_i, the MSE taken over every
/// element of the batch. 0 for a straight line traversed at constant speed; larger the more the path bends.
/// Non-uniform steps (rk45) use their own dt_i.
/// </summary>
public static class TrajectoryStraightness
{
    public static double Compute(IReadOnlyList<float[]> z, IReadOnlyList<double> times)
    {
        if (z.Count < 2 || times.Count != z.Count) throw new ArgumentException($"need at least 2 states with one time each (got {z.Count} states, {times.Count} times)");
        int n = z[0].Length;
        float[] first = z[0], last = z[^1];
        double total = 0;
        for (int s = 1; s < z.Count; s++)
        {
            float[] previous = z[s - 1], current = z[s];
            if (current.Length != n) throw new ArgumentException($"state {s} has {current.Length} values, state 0 has {n}");
            double dt = times[s - 1] - times[s];
            if (!(dt > 0)) throw new ArgumentException($"times must decrease (t[{s - 1}] = {times[s - 1]}, t[{s}] = {times[s]})");
            double sum = 0;
            for (int e = 0; e < n; e++)
            {
                double d = (previous[e] - current[e]) / dt - ((double)first[e] - last[e]);
                sum += d * d;
            }
            total += sum / n;
        }
        return total / (z.Count - 1);
    }
}
