using CatchUp.Data;
using Xunit;

namespace CatchUp.Tests.Data;

public class BatchSamplerTests
{
    /// <summary>Image i is 2x3 with every value equal to i / 1000 (so a batch tells which images it holds); label i % 10.</summary>
    private static ImageDataset Numbered(int count)
    {
        var images = new float[count * 6];
        for (int i = 0; i < images.Length; i++) images[i] = i / 6 / 1000f;
        return new ImageDataset(DatasetKind.Mnist, images, Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray(), 1, 2, 3, "test");
    }

    private static int[] Draw(BatchSampler sampler, int batches)
    {
        var all = new List<int>();
        var images = new float[sampler.BatchElements];
        var labels = new int[sampler.BatchSize];
        var indices = new int[sampler.BatchSize];
        for (int b = 0; b < batches; b++)
        {
            sampler.NextBatch(images, labels, indices);
            for (int i = 0; i < sampler.BatchSize; i++)
            {
                Assert.Equal(indices[i] % 10, labels[i]);
                Assert.Equal(indices[i] / 1000f, images[i * 6]);
            }
            all.AddRange(indices);
        }
        return all.ToArray();
    }

    [Fact]
    public void SameSeedGivesTheSameBatches()
    {
        ImageDataset data = Numbered(50);

        int[] a = Draw(new BatchSampler(data, 8, seed: 42), 20);
        int[] b = Draw(new BatchSampler(data, 8, seed: 42), 20);
        int[] c = Draw(new BatchSampler(data, 8, seed: 43), 20);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void EveryEpochVisitsEveryImageOnceInANewOrder()
    {
        ImageDataset data = Numbered(50);
        var sampler = new BatchSampler(data, 7, seed: 1); // 7 does not divide 50: batches straddle epochs

        int[] drawn = Draw(sampler, 50); // exactly 7 epochs

        var epochs = drawn.Chunk(50).ToArray();
        Assert.Equal(7, epochs.Length);
        foreach (int[] epoch in epochs) Assert.Equal(Enumerable.Range(0, 50), epoch.Order());
        Assert.Equal(7, epochs.Select(e => string.Join(",", e)).Distinct().Count());
        Assert.NotEqual(Enumerable.Range(0, 50), epochs[0]);
        Assert.Equal(7, sampler.Epoch);
        Assert.Equal(0, sampler.Position);
    }

    [Fact]
    public void RestoredStateContinuesTheSameSequence()
    {
        ImageDataset data = Numbered(50);
        var original = new BatchSampler(data, 8, seed: 9, randomFlip: true);
        Draw(original, 9); // mid-epoch: 72 images drawn, epoch 1 position 22
        BatchSamplerState state = original.GetState();
        Assert.Equal(new BatchSamplerState(9, 1, 22, 50), state);

        var resumed = new BatchSampler(data, 8, seed: 12345, randomFlip: true);
        resumed.SetState(state);

        Assert.Equal(Draw(original, 15), Draw(resumed, 15));
    }

    [Fact]
    public void StateSurvivesJsonSerialization()
    {
        var state = new BatchSamplerState(ulong.MaxValue, 3, 17, 50);

        string json = System.Text.Json.JsonSerializer.Serialize(state);

        Assert.Equal(state, System.Text.Json.JsonSerializer.Deserialize<BatchSamplerState>(json));
    }

    [Fact]
    public void StateForOtherDataIsRejected()
    {
        var sampler = new BatchSampler(Numbered(50), 8, seed: 1);

        Assert.Throws<ArgumentException>(() => sampler.SetState(new BatchSamplerState(1, 0, 0, 49)));
        Assert.Throws<ArgumentException>(() => sampler.SetState(new BatchSamplerState(1, 0, 50, 50)));
    }

    [Fact]
    public void RandomFlipMirrorsRowsOfSomeImages()
    {
        // One 2x3 image with distinct values: row-reversed it reads 2,1,0 / 5,4,3.
        var data = new ImageDataset(DatasetKind.Cifar10, [0, 1, 2, 3, 4, 5], [0], 1, 2, 3, "test");
        var sampler = new BatchSampler(data, 1, seed: 5, randomFlip: true);
        var image = new float[6];
        var label = new int[1];
        int flipped = 0;
        for (int i = 0; i < 200; i++)
        {
            sampler.NextBatch(image, label);
            if (image[0] == 2)
            {
                Assert.Equal([2f, 1, 0, 5, 4, 3], image);
                flipped++;
            }
            else
            {
                Assert.Equal([0f, 1, 2, 3, 4, 5], image);
            }
        }
        Assert.InRange(flipped, 60, 140);

        var plain = new BatchSampler(data, 1, seed: 5);
        for (int i = 0; i < 20; i++)
        {
            plain.NextBatch(image, label);
            Assert.Equal([0f, 1, 2, 3, 4, 5], image);
        }
    }

    [Fact]
    public void DrawingABatchAllocatesNothing()
    {
        var sampler = new BatchSampler(Numbered(40), 16, seed: 3, randomFlip: true);
        var images = new float[sampler.BatchElements];
        var labels = new int[16];
        sampler.NextBatch(images, labels); // first shuffle and JIT

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) sampler.NextBatch(images, labels); // crosses several epochs
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void WrongBufferSizesAreRejected()
    {
        var sampler = new BatchSampler(Numbered(10), 4, seed: 0);

        Assert.Throws<ArgumentException>(() => sampler.NextBatch(new float[23], new int[4]));
        Assert.Throws<ArgumentException>(() => sampler.NextBatch(new float[24], new int[3]));
    }
}
