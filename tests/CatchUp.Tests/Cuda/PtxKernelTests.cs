using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using CatchUp.Backends.Cuda;
using Xunit;

namespace CatchUp.Tests.Cuda;

/// <summary>The embedded PTX against the C# kernel declarations and the kernel sources (no GPU needed).</summary>
public sealed class PtxKernelTests
{
    private static readonly IReadOnlyList<(string Name, string Ptx)> Modules = PtxModules.LoadEmbedded();

    private static Dictionary<string, string[]> AllEntries()
    {
        var all = new Dictionary<string, string[]>();
        foreach (var (_, ptx) in Modules)
            foreach (var (name, types) in PtxModules.ParseEntries(ptx)) all.Add(name, types);
        return all;
    }

    [Fact]
    public void EveryModuleOfNativeKernelsIsEmbedded()
    {
        var sources = Directory.GetFiles(RepositoryFiles.Path("native", "kernels"), "*.cu").Select(Path.GetFileNameWithoutExtension).Order();
        Assert.Equal(sources, Modules.Select(m => m.Name).Order());
    }

    [Fact]
    public void EveryDeclaredKernelExistsInThePtxWithExactlyItsParameters()
    {
        var problems = PtxModules.Verify(CudaKernels.All, AllEntries());
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void EveryPtxEntryIsDeclared()
    {
        var declared = CudaKernels.All.Select(d => d.Name).ToHashSet();
        var undeclared = AllEntries().Keys.Where(e => !declared.Contains(e)).ToList();
        Assert.True(undeclared.Count == 0, "PTX entries without a C# declaration: " + string.Join(", ", undeclared));
    }

    [Fact]
    public void VerifyReportsMissingEntriesAndWrongParameters()
    {
        const string ptx = ".visible .entry k(\n\t.param .u64 k_param_0,\n\t.param .u32 k_param_1\n)\n{ ret; }";
        var entries = PtxModules.ParseEntries(ptx);
        Assert.Equal(["u64", "u32"], entries["k"]);
        Assert.Empty(PtxModules.Verify([new KernelDeclaration("k", "pi")], entries));
        Assert.Contains("parameter 1 is F32", Assert.Single(PtxModules.Verify([new KernelDeclaration("k", "pf")], entries)));
        Assert.Contains("passes 3 parameters", Assert.Single(PtxModules.Verify([new KernelDeclaration("k", "pii")], entries)));
        Assert.Contains("no such .entry", Assert.Single(PtxModules.Verify([new KernelDeclaration("other", "p")], entries)));
    }

    [Fact]
    public void NvccStyleParameterAttributesAreParsed()
    {
        const string ptx = ".visible .entry k(\n\t.param .u64 .ptr .global .align 4 k_param_0,\n\t.param .f32 k_param_1\n)\n{ ret; }";
        Assert.Equal(["u64", "f32"], PtxModules.ParseEntries(ptx)["k"]);
    }

    [Fact]
    public void ThePtxTargetsSm80OrNewerAndCallsNoExternalFunction()
    {
        foreach (var (name, ptx) in Modules)
        {
            var version = Regex.Match(ptx, @"^\.version (\d+)\.(\d+)", RegexOptions.Multiline);
            Assert.True(version.Success && int.Parse(version.Groups[1].Value) >= 7, $"{name}.ptx: PTX ISA 7.x or newer expected");
            var target = Regex.Match(ptx, @"^\.target sm_(\d+)", RegexOptions.Multiline);
            Assert.True(target.Success && int.Parse(target.Groups[1].Value) >= 70, $"{name}.ptx: sm_70 or newer expected");
            Assert.DoesNotMatch(@"\.extern\s+\.func", ptx);
        }
    }

    /// <summary>native/build-ptx.sh records sha256sum of the sorted kernel sources; the committed PTX must come from
    /// the current sources (run ./build.sh --target=Kernels after editing a .cu file).</summary>
    [Fact]
    public void TheCommittedPtxIsUpToDateWithTheKernelSources()
    {
        var dir = RepositoryFiles.Path("native", "kernels");
        var listing = new StringBuilder();
        foreach (var file in Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal))
            listing.Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, file!))))).Append("  ").Append(file).Append('\n');
        string actual = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(listing.ToString())));
        string recorded = File.ReadAllText(RepositoryFiles.Path("native", "ptx", "SOURCES.sha256")).Trim();
        Assert.True(actual == recorded, "native/ptx is stale: the kernel sources changed since the PTX was generated; run ./build.sh --target=Kernels");
    }

    [Fact]
    public void KernelsAreLaunchedOnlyThroughTheirDeclarations()
    {
        var src = RepositoryFiles.Path("src", "CatchUp.Managed");
        var files = Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/")).ToList();
        var launchers = files.Where(f => File.ReadAllText(f).Contains("cuLaunchKernel(")).Select(Path.GetFileName).Order();
        Assert.Equal(["CudaDriver.cs", "KernelLibrary.cs"], launchers);
        // And every declaration is used by the backend (no stale declarations).
        var backend = string.Concat(Directory.GetFiles(Path.Combine(src, "Backends", "Cuda"), "*.cs").Where(f => !f.EndsWith("CudaKernels.cs")).Select(File.ReadAllText));
        var fields = typeof(CudaKernels).GetFields().Where(f => f.FieldType == typeof(KernelDeclaration)).Select(f => f.Name);
        var unused = fields.Where(f => !Regex.IsMatch(backend, $@"\b(?:CudaKernels|K)\.{f}\s*[,)]")).ToList();
        Assert.True(unused.Count == 0, "declared but never launched: " + string.Join(", ", unused));
    }
}
