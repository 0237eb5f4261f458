// CatchUp build script. Targets: Data, Mpi, OpenCl, Kernels, Build, Test (default), Train, Bench, Golden, PublishGpu.
var target = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var testFilter = Argument("filter", "");

// Debian's dataset-fashion-mnist is the default training data (and the real-data tests use it).
const string FashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Debian packages the build and the tests need, installed when missing and apt can (root, or passwordless sudo).
// Every apt call waits for the dpkg lock (another apt may be running) instead of failing.
bool AptInstall(string packages, bool recommends = true)
{
    bool root = StartProcess("id", new ProcessSettings { Arguments = "-u", RedirectStandardOutput = true }, out var uid) == 0 && uid.FirstOrDefault() == "0";
    string sudo = root ? "" : "sudo -n ";
    const string wait = "-o DPkg::Lock::Timeout=300";
    StartProcess("sh", $"-c \"{sudo}apt-get {wait} update -q\"");
    return StartProcess("sh", $"-c \"DEBIAN_FRONTEND=noninteractive {sudo}apt-get {wait} install -y -q {(recommends ? "" : "--no-install-recommends ")}{packages}\"") == 0;
}

Task("Data")
    .Does(() =>
{
    if (System.IO.File.Exists(FashionMnistDir + "/train-images-idx3-ubyte.gz")) return;
    Information("Fashion-MNIST is missing; installing Debian's dataset-fashion-mnist ...");
    if (!AptInstall("dataset-fashion-mnist") || !System.IO.File.Exists(FashionMnistDir + "/train-images-idx3-ubyte.gz"))
        throw new Exception("could not install dataset-fashion-mnist (needs apt and root); install it, or train with --data DIR");
});

// Open MPI (the launcher and libmpi.so.40) and MPICH (mpirun.mpich, libmpich.so.12): the data-parallel tests run 2 ranks
// under each. catchup itself loads an MPI library only when an MPI launcher starts it.
Task("Mpi")
    .Does(() =>
{
    string[] needed = { "/usr/bin/mpirun.openmpi", "/usr/bin/mpirun.mpich" };
    if (needed.All(System.IO.File.Exists)) return;
    Information("Open MPI or MPICH is missing; installing Debian's openmpi-bin and mpich ...");
    if (!AptInstall("openmpi-bin mpich") || !needed.All(System.IO.File.Exists))
        throw new Exception("could not install openmpi-bin and mpich (needs apt and root); the data-parallel tests need them");
});

// POCL (an OpenCL 3.0 runtime on the CPU) and libOpenCL.so, which ILGPU loads: the ILGPU OpenCL test runs the
// conformance checks on every OpenCL device ILGPU accepts and checks the reason it gives for the others (ILGPU 1.5.3
// refuses POCL 3.1: no generic address space).
Task("OpenCl")
    .Does(() =>
{
    string[] needed = { "/etc/OpenCL/vendors/pocl.icd", "/usr/lib/x86_64-linux-gnu/libOpenCL.so" };
    if (needed.All(System.IO.File.Exists)) return;
    Information("POCL or libOpenCL.so is missing; installing Debian's pocl-opencl-icd, ocl-icd-libopencl1 and ocl-icd-opencl-dev ...");
    if (!AptInstall("pocl-opencl-icd ocl-icd-libopencl1 ocl-icd-opencl-dev") || !needed.All(System.IO.File.Exists))
        Warning("could not install POCL (needs apt and root): the ILGPU OpenCL test then checks the no-platform message only");
});

// CUDA kernels -> PTX (native/build-ptx.sh) with nvcc when present, else Debian's clang-14 (installed when missing and
// apt can), and -> a host library for the emulated backend tests (native/build-emulator.sh). No GPU needed. The PTX is
// committed and embedded; a test checks it matches the sources.
Task("Kernels")
    .Does(() =>
{
    bool Has(string tool) => StartProcess("sh", new ProcessSettings { Arguments = $"-c \"command -v {tool}\"", RedirectStandardOutput = true }) == 0;
    if (!Has("nvcc") && !Has("clang-14"))
    {
        Information("neither nvcc nor clang-14 found; installing Debian's clang-14 ...");
        bool installed = AptInstall("clang-14", recommends: false);
        if (!installed || !Has("clang-14"))
            Warning("could not install clang-14 (needs apt and root): keeping the committed PTX in native/ptx/ (the tests check it matches the sources); install nvcc or clang-14 to rebuild it");
    }
    if ((Has("nvcc") || Has("clang-14")) && StartProcess("native/build-ptx.sh") != 0) throw new Exception("native/build-ptx.sh failed");
    // The same kernels compiled for the host (native/build/, not committed): the emulated CUDA-backend tests use it.
    if (StartProcess("native/build-emulator.sh") != 0) throw new Exception("native/build-emulator.sh failed");
    // The NCCL ABI stand-in the NCCL binding tests load (native/build/fake-nccl/libnccl.so.2).
    if (StartProcess("native/build-test-stubs.sh") != 0) throw new Exception("native/build-test-stubs.sh failed");
});

Task("Build")
    .Does(() =>
{
    DotNetBuild("CatchUp.sln", new DotNetBuildSettings { Configuration = configuration });
});

Task("Test")
    .IsDependentOn("Kernels")
    .IsDependentOn("Data")
    .IsDependentOn("Mpi")
    .IsDependentOn("OpenCl")
    .IsDependentOn("Build")
    .Does(() =>
{
    var results = MakeAbsolute(Directory("artifacts/test-results"));
    CleanDirectory(results);
    var settings = new DotNetTestSettings
    {
        Configuration = configuration,
        NoBuild = true,
        Loggers = new[] { "trx;LogFileName=tests.trx", "console;verbosity=normal" },
        ResultsDirectory = results,
    };
    if (!string.IsNullOrEmpty(testFilter)) settings.Filter = testFilter;
    Exception failure = null;
    try { DotNetTest("tests/CatchUp.Tests/CatchUp.Tests.csproj", settings); }
    catch (Exception e) { failure = e; }

    // One plain summary line that any CI reader understands.
    var trx = System.IO.Path.Combine(results.FullPath, "tests.trx");
    if (System.IO.File.Exists(trx))
    {
        var doc = System.Xml.Linq.XDocument.Load(trx);
        var counters = doc.Descendants().First(e => e.Name.LocalName == "Counters");
        int passed = int.Parse(counters.Attribute("passed").Value);
        int failed = int.Parse(counters.Attribute("failed").Value);
        int total = int.Parse(counters.Attribute("total").Value);
        int skipped = total - passed - failed;
        System.Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped");
    }
    if (failure != null) throw failure;
});

Task("Train")
    .Description("Sets up everything and runs the default training (quick preset: CUD RK12 on Fashion-MNIST). Extra arguments: --train-args=\"...\"")
    .IsDependentOn("Data")
    .IsDependentOn("Build")
    .Does(() =>
{
    var args = new ProcessArgumentBuilder().Append("train");
    var extra = Argument("train-args", "");
    if (!string.IsNullOrWhiteSpace(extra)) args.Append(extra);
    DotNetRun("src/CatchUp.Managed/CatchUp.Managed.csproj", args,
        new DotNetRunSettings { Configuration = configuration, NoBuild = true });
});

Task("Bench")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetRun("src/CatchUp.Managed/CatchUp.Managed.csproj", new ProcessArgumentBuilder()
        .Append("bench").Append("unet").Append("--model").Append("mnist-paper")
        .Append("--batch").Append("64").Append("--threads").Append("2").Append("--steps").Append("10"),
        new DotNetRunSettings { Configuration = configuration, NoBuild = true });
});

// Self-contained linux-x64 build for GPU machines without .NET, plus the script that runs the GPU checks there.
Task("PublishGpu")
    .Description("artifacts/gpu/: self-contained catchup + run-gpu-checks.sh (selftest --device cuda, bench train-step/unet)")
    .Does(() =>
{
    var output = MakeAbsolute(Directory("artifacts/gpu"));
    CleanDirectory(output);
    DotNetPublish("src/CatchUp.Managed/CatchUp.Managed.csproj", new DotNetPublishSettings
    {
        Configuration = configuration,
        Runtime = "linux-x64",
        SelfContained = true,
        OutputDirectory = output,
    });
    CopyFileToDirectory("bench/gpu/run-gpu-checks.sh", output);
    // selftest finds golden/ next to the executable: the network against PyTorch on the GPU itself.
    EnsureDirectoryExists(output.Combine("golden"));
    CopyFiles("tests/golden/songunet_small*", output.Combine("golden"));
    StartProcess("chmod", $"+x {output}/run-gpu-checks.sh {output}/catchup");
    Information($"GPU bundle in {output}: copy it to the GPU machine and run ./run-gpu-checks.sh");
});

Task("Golden")
    .Description("Regenerates tests/golden from the PyTorch reference (needs Debian's python3-torch).")
    .Does(() =>
{
    var exit = StartProcess("/usr/bin/python3", "tests/golden/make_golden.py");
    if (exit != 0) throw new Exception("make_golden.py failed");
    exit = StartProcess("/usr/bin/python3", "tests/golden/make_pth_golden.py");
    if (exit != 0) throw new Exception("make_pth_golden.py failed");
    exit = StartProcess("/usr/bin/python3", "tests/golden/make_adm_golden.py");
    if (exit != 0) throw new Exception("make_adm_golden.py failed");
    exit = StartProcess("/usr/bin/python3", "tests/golden/inception/make_inception_golden.py");
    if (exit != 0) throw new Exception("make_inception_golden.py failed (it also needs Debian's python3-torchvision)");
});

RunTarget(target);
