using CatchUp.Evaluation.Inception;
using CatchUp.Tests.IO;
using Xunit;
using Xunit.Abstractions;

namespace CatchUp.Tests.Evaluation.Inception;

/// <summary>
/// Steady-state Extract allocates per call (resize tables, loop bookkeeping), never per image. Counted on the calling thread:
/// with 8 threads and fewer images the whole forward pass runs there (pool workers only run pointer-only GEMM blocks), and
/// with 1 thread Parallel.For runs the body inline.
/// </summary>
public class InceptionAllocationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)] // one image per thread
    [InlineData(8)] // fewer images than threads: convolutions on the worker pool
    public void ExtractAllocatesNothingPerImage(int threads)
    {
        using var dir = new TempDirectory();
        using var inception = InceptionV3Features.Load(DeterministicInceptionWeights.Write(dir.File("w.safetensors")), threads);
        var batches = new[] { 1, 4 }.ToDictionary(n => n, n => (Images: new float[n * 28 * 28], Features: new double[n * inception.FeatureDim]));
        long Allocated(int count)
        {
            var (images, features) = batches[count];
            long before = GC.GetAllocatedBytesForCurrentThread();
            inception.Extract(images, count, 1, 28, 28, features);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        for (int i = 0; i < 2; i++) Allocated(4); // warm up: workspaces, JIT tiering
        // Minimum of a few calls, in case tiered JIT work lands in one of them.
        long one = Enumerable.Range(0, 2).Min(_ => Allocated(1)), four = Enumerable.Range(0, 2).Min(_ => Allocated(4));
        // Each call allocates its resize tables and the parallel loop's bookkeeping; images 2-4 must add nothing.
        output.WriteLine($"1 image: {one} B, 4 images: {four} B");
        Assert.InRange(four - one, -512, 512);
    }
}
