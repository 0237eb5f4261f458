using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Bench;

internal static class BenchData
{
    /// <summary>A tensor of U(-1, 1) values seeded by its length (the same data on every backend).</summary>
    public static Tensor Random(IBackend backend, params int[] shape)
    {
        var t = backend.Allocate(shape);
        var data = new float[t.Length];
        var rng = new Random(t.Length);
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        backend.Upload(data, t);
        return t;
    }
}
