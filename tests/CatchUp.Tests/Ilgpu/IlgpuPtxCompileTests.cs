using System.Text.RegularExpressions;
using CatchUp.Backends.Ilgpu;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Xunit;

namespace CatchUp.Tests.Ilgpu;

/// <summary>ILGPU's PTX backend needs no GPU: one context and backend for the class.</summary>
public sealed class PtxBackendFixture : IDisposable
{
    public Context Context { get; } = Context.Create(b => b.Optimize(OptimizationLevel.O1));
    public PTXBackend Backend { get; }

    public PtxBackendFixture() =>
        Backend = new PTXBackend(Context, new CudaCapabilityContext(CudaArchitecture.SM_75), CudaArchitecture.SM_75, CudaInstructionSet.ISA_75, null);

    public void Dispose()
    {
        Backend.Dispose();
        Context.Dispose();
    }
}

/// <summary>
/// Every ILGPU kernel the backend launches compiles to PTX for sm_75 without a GPU, so a kernel that uses something
/// only the CPU accelerator can run (a System.Math call ILGPU cannot lower, a managed object) fails CI here.
/// </summary>
public sealed class IlgpuPtxCompileTests(PtxBackendFixture ptx) : IClassFixture<PtxBackendFixture>
{
    public static TheoryData<int, string> Kernels
    {
        get
        {
            var data = new TheoryData<int, string>();
            for (int i = 0; i < IlgpuKernels.EntryPoints.Count; i++) data.Add(i, Describe(IlgpuKernels.EntryPoints[i]));
            return data;
        }
    }

    private static string Describe(System.Reflection.MethodInfo m) =>
        $"{m.DeclaringType!.Name}.{m.Name}" + (m.IsGenericMethod ? $"<{string.Join(", ", m.GetGenericArguments().Select(t => t.Name))}>" : "");

    [Theory, MemberData(nameof(Kernels))]
    public void CompilesToPtxWithoutAGpu(int index, string kernel)
    {
        var method = IlgpuKernels.EntryPoints[index];
        Assert.Equal(kernel, Describe(method));
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
        var compiled = Assert.IsType<PTXCompiledKernel>(ptx.Backend.Compile(entry, KernelSpecialization.Empty));
        string code = compiled.PTXAssembly;
        Assert.Contains(".target sm_75", code);
        Assert.Contains(".entry ", code);
        // A call ILGPU could not lower stays an undefined external function, which the driver would reject at load.
        Assert.DoesNotMatch(new Regex(@"\.extern\s+\.func"), code);
    }

    [Fact]
    public void TheEntryPointListHasEveryKernelMethod()
    {
        var listed = IlgpuKernels.EntryPoints.Select(m => m.IsGenericMethod ? m.GetGenericMethodDefinition() : m).ToHashSet();
        var kernels = typeof(IlgpuKernels).Assembly.GetTypes()
            .Where(t => t.Namespace == "CatchUp.Backends.Ilgpu.Kernels" && t.Name.EndsWith("Kernels"))
            .SelectMany(t => t.GetMethods(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static))
            .Where(m => m.ReturnType == typeof(void)).ToList();
        Assert.NotEmpty(kernels);
        var missing = kernels.Where(m => !listed.Contains(m)).Select(m => $"{m.DeclaringType!.Name}.{m.Name}").ToList();
        Assert.True(missing.Count == 0, "kernels missing from IlgpuKernels.EntryPoints: " + string.Join(", ", missing));
    }
}
