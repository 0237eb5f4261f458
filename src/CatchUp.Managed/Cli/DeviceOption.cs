using System.CommandLine;
using CatchUp.Backends;

namespace CatchUp.Cli;

/// <summary>The <c>--device cpu|cuda|auto|ilgpu[-cpu|-opencl|-cuda]</c> option shared by the commands that compute.</summary>
internal static class DeviceOption
{
    public static Option<string> Create() => new("--device")
    {
        Description = "cpu | cuda | auto (CUDA when a driver and a GPU are present, else CPU) | ilgpu (ILGPU kernels on the best "
            + "ILGPU accelerator: CUDA or OpenCL GPU, else ILGPU's CPU accelerator) | ilgpu-cpu | ilgpu-opencl | ilgpu-cuda",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>Opens the backend; an unknown name is a usage error, an unusable GPU a one-line error (exit 1).
    /// <paramref name="convAlgorithm"/> (<c>--conv-algorithm</c>) is applied to a CPU backend.</summary>
    public static IBackend Open(string device, int threads, Distributed.ICommunicator? communicator = null, string? convAlgorithm = null)
    {
        var comm = communicator ?? Distributed.SingleProcessCommunicator.Instance;
        IBackend backend;
        try { backend = BackendFactory.Create(device, threads, comm.IsRoot ? Console.Out : TextWriter.Null, comm.LocalRank); }
        catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        if (convAlgorithm is not null) ConvAlgorithmOption.Apply(backend, convAlgorithm, comm.IsRoot ? Console.Out : TextWriter.Null);
        if (Backends.Cpu.ConvPlan.Of(backend) is { } plan) Distributed.ConvPlanAgreement.Install(plan, comm);
        return backend;
    }
}
