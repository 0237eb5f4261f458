using CatchUp.Evaluation.Inception;
using CatchUp.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Evaluation.Inception;

/// <summary>
/// Steady-state Extract allocates per call (resize tables, loop bookkeeping), never per image. Counted on the calling thread:
/// with 3 threads and fewer images the whole forward pass runs there (pool workers only run pointer-only GEMM blocks), and
/// with 1 thread Parallel.For runs the body inline.
/// </summary>
public class InceptionAllocationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 2)] // one image per thread
    [InlineData(3, 2)] // fewer images than threads: convolutions on the worker pool
    public void ExtractAllocatesNothingPerImage(int threads, int more)
    {
        using var dir = new TempDirectory();
        using var inception = InceptionV3Features.Load(DeterministicInceptionWeights.Write(dir.File("w.safetensors")), threads);
        var batches = new[] { 1, more }.ToDictionary(n => n, n => (Images: new float[n * 28 * 28], Features: new double[n * inception.FeatureDim]));
        long Allocated(int count)
        {
            var (images, features) = batches[count];
            long before = GC.GetAllocatedBytesForCurrentThread();
            inception.Extract(images, count, 1, 28, 28, features);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        for (int i = 0; i < 2; i++) Allocated(more); // warm up: workspaces, JIT tiering
        // Minimum of a few calls, in case tiered JIT work lands in one of them.
        long one = Enumerable.Range(0, 2).Min(_ => Allocated(1)), many = Enumerable.Range(0, 2).Min(_ => Allocated(more));
        // Each call allocates its resize tables and the parallel loop's bookkeeping; further images must add nothing.
        output.WriteLine($"1 image: {one} B, {more} images: {many} B");
        Assert.InRange(many - one, -512, 512);
    }
}
