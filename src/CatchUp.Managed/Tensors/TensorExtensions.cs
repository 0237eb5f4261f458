namespace CatchUp.Tensors;

public static class TensorExtensions
{
    /// <summary>Reuses <paramref name="t"/> when it already has <paramref name="shape"/>, else replaces it; steady-state steps allocate nothing.</summary>
    public static Tensor Ensure(this Backends.IBackend backend, ref Tensor? t, params ReadOnlySpan<int> shape)
    {
        if (t is not null && !t.IsDisposed && t.HasShape(shape)) return t;
        t?.Dispose();
        t = backend.Allocate(shape);
        return t;
    }

    public static Tensor FromArray(this Backends.IBackend backend, ReadOnlySpan<float> data, params ReadOnlySpan<int> shape)
    {
        var t = backend.Allocate(shape);
        if (data.Length != t.Length)
        {
            t.Dispose();
            throw new ArgumentException($"data has {data.Length} elements, shape [{string.Join(",", shape.ToArray())}] needs {t.Length}");
        }
        backend.Upload(data, t);
        return t;
    }
}
