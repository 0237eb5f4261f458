// CatchUp build script. Targets: Build, Test (default), Bench, Golden.
var target = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var testFilter = Argument("filter", "");

Task("Build")
    .Does(() =>
{
    DotNetBuild("CatchUp.sln", new DotNetBuildSettings { Configuration = configuration });
});

Task("Test")
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
        Information($"{passed} passed, {failed} failed, {skipped} skipped");
    }
    if (failure != null) throw failure;
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

Task("Golden")
    .Description("Regenerates tests/golden from the PyTorch reference (needs Debian's python3-torch).")
    .Does(() =>
{
    var exit = StartProcess("/usr/bin/python3", "tests/golden/make_golden.py");
    if (exit != 0) throw new Exception("make_golden.py failed");
});

RunTarget(target);
