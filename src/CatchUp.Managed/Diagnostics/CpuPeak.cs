using CatchUp.Backends.Cpu;

namespace CatchUp.Diagnostics;

/// <summary>Nominal fp32 peak: threads x clock x FMA ports (2) x SIMD lanes x 2 FLOPs per FMA.</summary>
public static class CpuPeak
{
    public readonly record struct Peak(double Gflops, string Basis);

    public static Peak Estimate(int threads)
    {
        double ghz = ReadClockGhz();
        int lanes = SimdInfo.HasAvx512 ? 16 : 8;
        double gflops = threads * ghz * 2 * lanes * 2;
        return new Peak(gflops, $"{threads} cores x {ghz:F2} GHz x 2 FMA ports x {lanes} fp32 lanes x 2");
    }

    private static double ReadClockGhz() =>
        double.TryParse(CpuInfo.Field("cpu MHz"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double mhz) && mhz > 0
            ? mhz / 1000.0 : 2.5;
}
