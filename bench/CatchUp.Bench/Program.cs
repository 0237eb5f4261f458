using BenchmarkDotNet.Running;

// Kernel microbenchmarks: dotnet run -c Release --project bench/CatchUp.Bench -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

public partial class Program { }
