namespace CatchUp.Backends.Cpu;

/// <summary>How the CPU backend computes 3x3 stride-1 convolutions (forward, backward-data and backward-weight).
/// 1x1 convolutions are always direct.</summary>
public enum ConvAlgorithm
{
    /// <summary>Per layer shape, the fastest accurate algorithm, measured once on this machine.</summary>
    Auto,
    /// <summary>Padded wide-row GEMMs (<see cref="Kernels.Conv2dKernels"/>).</summary>
    Direct,
    /// <summary>Winograd F(2x2, 3x3): 2.25x fewer multiplies.</summary>
    Winograd2,
    /// <summary>Winograd F(4x4, 3x3): 4x fewer multiplies.</summary>
    Winograd4,
}

public static class ConvAlgorithmNames
{
    public static string Name(this ConvAlgorithm a) => a switch
    {
        ConvAlgorithm.Auto => "auto", ConvAlgorithm.Direct => "direct", ConvAlgorithm.Winograd2 => "winograd2",
        ConvAlgorithm.Winograd4 => "winograd4", _ => throw new ArgumentOutOfRangeException(nameof(a)),
    };

    public static ConvAlgorithm Parse(string s) => s.Trim().ToLowerInvariant() switch
    {
        "auto" => ConvAlgorithm.Auto, "direct" => ConvAlgorithm.Direct, "winograd2" => ConvAlgorithm.Winograd2,
        "winograd4" => ConvAlgorithm.Winograd4,
        _ => throw new ArgumentException($"unknown convolution algorithm '{s}' (auto, direct, winograd2 or winograd4)"),
    };

    /// <summary>The output tile side m of a Winograd algorithm, null for the others.</summary>
    internal static int? WinogradTile(this ConvAlgorithm a) => a switch
    {
        ConvAlgorithm.Winograd2 => 2, ConvAlgorithm.Winograd4 => 4, _ => null,
    };
}
