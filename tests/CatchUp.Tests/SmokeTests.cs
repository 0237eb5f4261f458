using CatchUp.Backends.Cpu;
using Xunit;

namespace CatchUp.Tests;

public class WorkerPoolTests
{
    private struct SumJob : IParallelJob
    {
        public unsafe long* Slots;
        public unsafe void Execute(int index, int worker) => Interlocked.Add(ref Slots[0], index);
    }

    [Fact]
    public unsafe void ForVisitsEveryIndexExactlyOnce()
    {
        using var pool = new WorkerPool(2);
        long total = 0;
        var job = new SumJob { Slots = &total };
        for (int rep = 0; rep < 200; rep++) pool.For(1000, ref job);
        Assert.Equal(200L * 999 * 1000 / 2, total);
    }
}
