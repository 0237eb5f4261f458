using System.Globalization;
using System.Text;
using CatchUp.Diagnostics;
using CatchUp.IO;

namespace CatchUp.Backends.Cpu;

/// <summary>
/// The auto-tuner's choices kept per machine, so that <c>--conv-algorithm auto</c> measures each 3x3 shape once on a
/// machine and every later run there (any batch, thread count or number of ranks) computes with the same algorithms:
/// separate runs stay repeatable bit for bit, and a one-process run and its <c>mpirun</c> twin agree.
/// One tab-separated line per machine and shape in <c>$XDG_CACHE_HOME/catchup/conv-plan.tsv</c>
/// (<see cref="CacheDirectory"/>): <c>machine, shape, choice, batch, threads, date</c> (the last three say where the
/// choice was measured). The machine is the CPU's model name, its logical processor count and the SIMD width.
/// The first choice stored for a shape stays (writers merge under a lock file); delete the file to measure again.
/// Lines that do not parse are ignored, and a file over <see cref="MaxBytes"/> is not read.
/// </summary>
public sealed class ConvPlanCache(string path, string machine)
{
    public const string FileName = "conv-plan.tsv";
    public const long MaxBytes = 1 << 20;

    public string Path { get; } = path;
    public string Machine { get; } = machine;

    /// <summary>The cache of this machine in the per-user cache folder.</summary>
    public static ConvPlanCache ForThisMachine() =>
        new(System.IO.Path.Combine(CacheDirectory.Root, FileName),
            Clean($"{CpuInfo.ModelName}, {Environment.ProcessorCount} logical processors, {SimdInfo.Description}"));

    private static string Clean(string s) => s.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');

    /// <summary>The stored choice for <paramref name="shape"/> on this machine, or null.</summary>
    public ConvChoice? Find(ConvShape shape)
    {
        foreach (var e in Read())
            if (e.Machine == Machine && e.Shape == shape) return e.Choice with { Note = e.Note };
        return null;
    }

    /// <summary>Stores a choice measured here unless the file already holds one for the shape, and returns the choice
    /// the file holds now: this one, or the one another process stored first (which the caller should then use, so
    /// that processes measuring at the same time still compute alike). Null when the cache cannot be written
    /// (read-only home, lock held too long): the run goes on with its own choice.</summary>
    public ConvChoice? Store(ConvShape shape, ConvChoice choice, int threads)
    {
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            using var lockFile = Lock(Path + ".lock");
            if (lockFile is null) return null;
            var entries = Read().ToList();
            foreach (var e in entries)
                if (e.Machine == Machine && e.Shape == shape) return e.Choice with { Note = e.Note };
            var text = new StringBuilder();
            foreach (var e in entries) text.Append(Line(e.Machine, e.Shape, e.Choice.Name, e.Measured)).Append('\n');
            string measured = string.Create(CultureInfo.InvariantCulture, $"{choice.Batch}\t{threads}\t{DateTime.UtcNow:yyyy-MM-dd}");
            text.Append(Line(Machine, shape, choice.Name, measured)).Append('\n');
            AtomicFile.WriteAllText(Path, text.ToString());
            return choice;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string Line(string machine, ConvShape shape, string choice, string measured) => $"{machine}\t{shape}\t{choice}\t{measured}";

    private IEnumerable<(string Machine, ConvShape Shape, ConvChoice Choice, string Measured, string Note)> Read()
    {
        string[] lines;
        try
        {
            var info = new FileInfo(Path);
            if (!info.Exists || info.Length > MaxBytes) yield break;
            lines = File.ReadAllLines(Path);
        }
        catch (IOException) { yield break; }
        catch (UnauthorizedAccessException) { yield break; }
        foreach (var line in lines)
        {
            var f = line.Split('\t');
            if (f.Length != 6 || !int.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out _)
                || !int.TryParse(f[4], NumberStyles.None, CultureInfo.InvariantCulture, out _)
                || !DateOnly.TryParseExact(f[5], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)) continue;
            ConvShape shape;
            ConvChoice choice;
            try { shape = ConvShape.Parse(f[1]); choice = ConvChoice.Parse(f[2]); }
            catch (FormatException) { continue; }
            catch (ArgumentException) { continue; }
            string measured = $"{f[3]}\t{f[4]}\t{f[5]}";
            yield return (f[0], shape, choice, measured, $"(measured on this machine {f[5]}, batch {f[3]}, {f[4]} threads; {Path})");
        }
    }

    /// <summary>An exclusively opened lock file, waiting up to 10 s for another process to release it; null if it does
    /// not. The file is left in place: deleting it would race with the next opener.</summary>
    private static FileStream? Lock(string path)
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1); }
            catch (IOException) { Thread.Sleep(50); }
        }
        return null;
    }
}
