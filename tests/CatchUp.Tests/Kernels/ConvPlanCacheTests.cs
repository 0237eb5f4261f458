using CatchUp.Backends.Cpu;
using CatchUp.Tensors;
using Xunit;

namespace CatchUp.Tests.Kernels;

/// <summary><c>--conv-algorithm auto</c>'s per-machine cache: a shape is measured once per machine, later plans take
/// the stored choice, the first stored choice stays, and a damaged or unwritable cache never stops a run.</summary>
public class ConvPlanCacheTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("catchup-convcache-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CachePath => Path.Combine(_dir, "sub", ConvPlanCache.FileName);

    private static readonly ConvShape Shape = new(8, 8, 8, 8);
    private static readonly ConvChoice Mixed = new(ConvAlgorithm.Winograd4, ConvAlgorithm.Direct, ConvAlgorithm.Winograd2, 16, []);

    [Fact]
    public void StoredChoiceIsFoundOnTheSameMachineOnlyAndTheFirstOneStays()
    {
        var cache = new ConvPlanCache(CachePath, "cpu A");
        Assert.Null(cache.Find(Shape));
        cache.Store(Shape, Mixed, threads: 2);
        var found = new ConvPlanCache(CachePath, "cpu A").Find(Shape);
        Assert.NotNull(found);
        Assert.Equal((ConvAlgorithm.Winograd4, ConvAlgorithm.Direct, ConvAlgorithm.Winograd2), (found!.Forward, found.Data, found.Weight));
        Assert.Contains("batch 16, 2 threads", found.Note);
        Assert.Contains(CachePath, ConvPlan.Describe(Shape, found));

        // a later measurement of the same shape does not replace the stored one; another shape is added beside it
        // (and the caller is handed the stored one, so processes measuring at the same time compute alike)
        Assert.Equal("winograd4/direct/winograd2", cache.Store(Shape, ConvChoice.All(ConvAlgorithm.Direct), threads: 1)!.Name);
        Assert.Equal("direct", cache.Store(new ConvShape(1, 8, 8, 8), ConvChoice.All(ConvAlgorithm.Direct), threads: 1)!.Name);
        Assert.Equal("winograd4/direct/winograd2", cache.Find(Shape)!.Name);
        Assert.Equal("direct", cache.Find(new ConvShape(1, 8, 8, 8))!.Name);

        // another machine measures for itself
        var other = new ConvPlanCache(CachePath, "cpu B");
        Assert.Null(other.Find(Shape));
        other.Store(Shape, ConvChoice.All(ConvAlgorithm.Winograd2), threads: 2);
        Assert.Equal("winograd2", other.Find(Shape)!.Name);
        Assert.Equal("winograd4/direct/winograd2", cache.Find(Shape)!.Name);
        Assert.Equal(3, File.ReadAllLines(CachePath).Length);
    }

    [Fact]
    public void DamagedOrOversizedCacheIsIgnoredAndRewritten()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(CachePath)!);
        string good = $"cpu A\t{Shape}\twinograd2\t64\t2\t2026-12-01";
        File.WriteAllLines(CachePath,
        [
            "garbage", "cpu A\t8->8@8x8\tauto\t64\t2\t2026-12-01", "cpu A\t8->8@8x8\tfast\t64\t2\t2026-12-01",
            "cpu A\t8->8@8\tdirect\t64\t2\t2026-12-01", "cpu A\t8->8@8x8\tdirect\t-1\t2\t2026-12-01",
            "cpu A\t8->8@8x8\tdirect\t64\t2\tyesterday", "cpu A\t8->8@8x8\tdirect", good,
        ]);
        var cache = new ConvPlanCache(CachePath, "cpu A");
        Assert.Equal("winograd2", cache.Find(Shape)!.Name);
        // storing a new shape keeps the parseable lines only
        cache.Store(new ConvShape(2, 2, 2, 2), ConvChoice.All(ConvAlgorithm.Direct), threads: 1);
        var lines = File.ReadAllLines(CachePath);
        Assert.Equal(2, lines.Length);
        Assert.Equal(good, lines[0]);

        // a file over the size limit is not read at all
        File.WriteAllText(CachePath, good + "\n" + new string('#', (int)ConvPlanCache.MaxBytes));
        Assert.Null(cache.Find(Shape));
    }

    [Fact]
    public void UnwritableCacheIsSkipped()
    {
        File.WriteAllText(Path.Combine(_dir, "sub"), "a file where the folder should be");
        var cache = new ConvPlanCache(CachePath, "cpu A");
        Assert.Null(cache.Store(Shape, Mixed, threads: 2)); // no exception: the run keeps its own choice
        Assert.Null(cache.Find(Shape));
    }

    [Fact]
    public void AutoMeasuresAShapeOnceAndLaterPlansComputeWithTheStoredChoice()
    {
        var cache = new ConvPlanCache(CachePath, "cpu A");
        ConvChoice First()
        {
            using var be = new CpuBackend(1) { ConvAlgorithm = ConvAlgorithm.Auto };
            be.ConvPlan.Cache = cache;
            be.ConvPlan.TuneRounds = 1;
            using var x = be.Allocate([2, 4, 6, 6]);
            using var w = be.Allocate([4, 4, 3, 3]);
            using var y = be.Allocate([2, 4, 6, 6]);
            be.Conv2dForward(x, w, null, y);
            return be.ConvPlan.Entries.Single().Choice;
        }
        var tuned = First();
        Assert.NotEmpty(tuned.Candidates); // measured here
        var recalled = First();
        Assert.Empty(recalled.Candidates); // taken from the cache
        Assert.Equal(tuned.Name, recalled.Name);
        Assert.NotNull(recalled.Note);
    }

    [Fact]
    public void AFixedAlgorithmIsRecordedForEveryShapeCalled()
    {
        using var be = new CpuBackend(1) { ConvAlgorithm = ConvAlgorithm.Winograd2 };
        using var x = be.Allocate([1, 3, 5, 5]);
        using var w = be.Allocate([4, 3, 3, 3]);
        using var y = be.Allocate([1, 4, 5, 5]);
        be.Conv2dForward(x, w, null, y);
        Assert.Equal("3->4@5x5=winograd2", be.ConvPlan.Serialize());
        // ... so that a resume under auto computes as the run did
        var resumed = new ConvPlan { Requested = ConvAlgorithm.Auto };
        resumed.Load(be.ConvPlan.Serialize());
        Assert.Equal(ConvAlgorithm.Winograd2, resumed.Entries.Single().Choice.Forward);
    }
}
