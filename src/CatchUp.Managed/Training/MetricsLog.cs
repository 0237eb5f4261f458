using System.Globalization;
using System.Text;

namespace CatchUp.Training;

/// <summary>metrics.jsonl: one JSON object per logged iteration. On resume, lines past the checkpoint are dropped so
/// the file reads as if the run had never been interrupted.</summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly StringBuilder _line = new(256);

    public MetricsLog(string path, long resumeIteration)
    {
        Path = path;
        if (resumeIteration > 0 && File.Exists(path))
        {
            var kept = File.ReadLines(path).Where(l => IterationOf(l) is long i && i <= resumeIteration).ToList();
            File.WriteAllLines(path, kept);
        }
        else if (resumeIteration == 0 && File.Exists(path)) File.Delete(path);
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public string Path { get; }

    public void Write(long iteration, IReadOnlyList<string> names, Func<int, double> value, double total, double lr, double samplesPerSecond, long nanSkips)
    {
        var c = CultureInfo.InvariantCulture;
        _line.Clear().Append("{\"iteration\":").Append(iteration.ToString(c)).Append(",\"loss\":").Append(Number(total));
        for (int i = 0; i < names.Count; i++) _line.Append(",\"").Append(names[i]).Append("\":").Append(Number(value(i)));
        _line.Append(",\"lr\":").Append(Number(lr)).Append(",\"samples_per_s\":").Append(Number(samplesPerSecond))
            .Append(",\"nan_skips\":").Append(nanSkips.ToString(c)).Append('}');
        _writer.WriteLine(_line);
    }

    private static string Number(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "null";

    private static long? IterationOf(string line)
    {
        const string key = "{\"iteration\":";
        if (!line.StartsWith(key, StringComparison.Ordinal)) return null;
        int end = line.IndexOf(',', key.Length);
        return end > 0 && long.TryParse(line.AsSpan(key.Length, end - key.Length), NumberStyles.Integer, CultureInfo.InvariantCulture, out long i) ? i : null;
    }

    public void Dispose() => _writer.Dispose();
}
