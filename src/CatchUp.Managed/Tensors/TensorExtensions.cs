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

    /// <summary>Reuses <paramref name="view"/> while it still views <paramref name="owner"/>'s memory with
    /// <paramref name="shape"/>, else makes a new <see cref="Tensor.View"/> (no device allocation either way).</summary>
    public static Tensor EnsureView(ref Tensor? view, Tensor owner, params ReadOnlySpan<int> shape)
    {
        if (view is not null && view.Handle == owner.Handle && owner.Handle != 0 && view.HasShape(shape)) return view;
        view = owner.View(shape);
        return view;
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
