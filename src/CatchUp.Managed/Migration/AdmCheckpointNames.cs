using System.Globalization;
using System.Text.RegularExpressions;
using CatchUp.IO;
using CatchUp.Training;

namespace CatchUp.Migration;

/// <summary>
/// The file names the ADM reference (Catch-Up-Distillation-ImageNet-64x64, openai/consistency_models'
/// <c>cm/train_util.py</c>) saves at each checkpoint: <c>model{step:06d}.pt</c> (the raw weights),
/// <c>ema_{rate}_{step:06d}.pt</c> (one per EMA rate) and <c>opt{step:06d}.pt</c> (Adam).
/// </summary>
internal static partial class AdmCheckpointNames
{
    [GeneratedRegex(@"model(\d+)\.pt$", RegexOptions.CultureInvariant)]
    private static partial Regex ModelName();

    [GeneratedRegex(@"^ema_([0-9][0-9.eE+-]*)_(\d+)\.pt$", RegexOptions.CultureInvariant)]
    private static partial Regex EmaName();

    /// <summary>The step of <c>model{step}.pt</c> (the reference's parse_resume_step_from_filename) or of
    /// <c>ema_{rate}_{step}.pt</c>; null for any other name.</summary>
    public static long? StepOf(string path)
    {
        string name = Path.GetFileName(path);
        var m = ModelName().Match(name);
        if (m.Success && long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long step)) return step;
        return TryParseEma(name) is { } ema ? ema.Step : null;
    }

    /// <summary>The rate and step of an <c>ema_{rate}_{step}.pt</c> file; any other name is an error naming the file.</summary>
    public static (float Rate, long Step) ParseEma(string path) => TryParseEma(Path.GetFileName(path))
        ?? throw new InvalidDataFileException(path, "an EMA file must be named ema_<rate>_<step>.pt (ema_0.9999_000123.pt) with a rate in (0, 1), as the reference saves it");

    private static (float Rate, long Step)? TryParseEma(string name)
    {
        var m = EmaName().Match(name);
        if (!m.Success || !double.TryParse(m.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double rate)
            || !long.TryParse(m.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long step)) return null;
        float r = (float)rate;
        return r > 0 && r < 1 ? (r, step) : null;
    }

    public static string Model(long step) => string.Create(CultureInfo.InvariantCulture, $"model{step:D6}.pt");

    /// <summary>The rate written as in the checkpoint's <c>ema_RATE.</c> prefix (<see cref="Trainer.ExtraEmaPrefix"/>).</summary>
    public static string Ema(float rate, long step) => string.Create(CultureInfo.InvariantCulture, $"{Trainer.ExtraEmaPrefix(rate)[..^1]}_{step:D6}.pt");
}
