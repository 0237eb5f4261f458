using System.Diagnostics;

namespace CatchUp.Training;

/// <summary>A one-line progress bar (bar, count, it/s, a detail such as the loss, ETA), redrawn in place on a terminal
/// and printed as plain lines every <c>every</c> iterations when the output is redirected (logs, CI).</summary>
public sealed class ProgressLine(long start, long total, long every, TextWriter output)
{
    private readonly bool _terminal = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
    private readonly long _startTicks = Stopwatch.GetTimestamp();
    private long _lastDraw;

    public void Update(long completed, double loss) => Update(completed, $"loss {loss:F4}");

    public void Update(long completed, string detail)
    {
        long now = Stopwatch.GetTimestamp();
        bool periodic = completed % every == 0 || completed == total;
        if (_terminal ? now - _lastDraw < Stopwatch.Frequency / 8 && completed != total : !periodic) return;
        _lastDraw = now;
        double elapsed = Stopwatch.GetElapsedTime(_startTicks).TotalSeconds;
        double rate = (completed - start) / Math.Max(elapsed, 1e-9);
        var eta = TimeSpan.FromSeconds(rate > 0 ? (total - completed) / rate : 0);
        const int width = 24;
        int filled = (int)(width * completed / Math.Max(total, 1));
        string bar = new string('#', filled) + new string('.', width - filled);
        string text = $"[{bar}] {completed}/{total}  {rate:F2} it/s  {detail}  ETA {eta:hh\\:mm\\:ss}";
        if (_terminal) output.Write("\r" + text + (completed == total ? "\n" : ""));
        else output.WriteLine(text);
    }

    public void Message(string text)
    {
        if (_terminal) output.Write("\r\x1b[2K");
        output.WriteLine(text);
    }
}
