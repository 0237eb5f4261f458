namespace CatchUp.Backends.Ilgpu;

/// <summary>The ILGPU accelerator asked for is absent or refused (a one-line error for the CLI).</summary>
public sealed class IlgpuDeviceException(string message) : Exception(message);
