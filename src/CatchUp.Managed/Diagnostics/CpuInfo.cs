namespace CatchUp.Diagnostics;

/// <summary>Fields of Linux's <c>/proc/cpuinfo</c> (first processor); null where the file or the field is missing.</summary>
public static class CpuInfo
{
    public static string? Field(string name)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && line.AsSpan(0, colon).Trim().SequenceEqual(name)) return line[(colon + 1)..].Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>"AMD EPYC", "Intel(R) Xeon(R) Platinum 8481C", or the architecture where /proc/cpuinfo has no name.</summary>
    public static string ModelName => Field("model name") ?? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
}
