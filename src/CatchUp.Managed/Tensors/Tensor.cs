namespace CatchUp.Tensors;

/// <summary>
/// A float32 tensor resident on a backend's device. Layout is row-major NCHW for 4-d tensors.
/// The CPU backend's <see cref="Handle"/> is a 64-byte aligned host pointer; a GPU backend's is a device pointer.
/// Host access goes through <see cref="Backends.IBackend.Upload"/> and <see cref="Backends.IBackend.Download"/>.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly bool _isView;

    internal Tensor(Backends.IBackend backend, nint handle, ReadOnlySpan<int> shape, bool isView = false)
    {
        _isView = isView;
        Backend = backend;
        Handle = handle;
        _shape = shape.ToArray();
        long length = 1;
        foreach (int d in _shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape [{string.Join(",", _shape)}]");
            length *= d;
        }
        if (length > int.MaxValue) throw new ArgumentException($"tensor of shape [{string.Join(",", _shape)}] is too large");
        Length = (int)length;
    }

    public Backends.IBackend Backend { get; }
    /// <summary>Device address of element 0.</summary>
    public nint Handle { get; private set; }
    public ReadOnlySpan<int> Shape => _shape;
    public int Rank => _shape.Length;
    public int Length { get; }
    public bool IsDisposed => Handle == 0;

    public int N => _shape[0];
    public int C => _shape.Length > 1 ? _shape[1] : 1;
    public int H => _shape.Length > 2 ? _shape[2] : 1;
    public int W => _shape.Length > 3 ? _shape[3] : 1;
    /// <summary>Elements per sample (product of all dims but the first).</summary>
    public int SampleSize => _shape.Length == 0 || _shape[0] == 0 ? 0 : Length / _shape[0];

    public int Dim(int i) => _shape[i];

    public bool HasShape(ReadOnlySpan<int> shape) => shape.SequenceEqual(_shape);

    /// <summary>True for a <see cref="View"/>: it does not own its memory.</summary>
    public bool IsView => _isView;

    /// <summary>
    /// A non-owning view of the same memory under another shape with the same number of elements (a row-major
    /// reshape, e.g. [N, heads*3d, H, W] as [N*heads, 3d, H, W]). Disposing the view frees nothing; the view is valid
    /// only while this tensor is alive (a layer that re-<c>Ensure</c>s its buffer must re-create its views).
    /// </summary>
    public Tensor View(params ReadOnlySpan<int> shape)
    {
        if (Handle == 0) throw new ObjectDisposedException(nameof(Tensor));
        var view = new Tensor(Backend, Handle, shape, isView: true);
        if (view.Length != Length)
            throw new ArgumentException($"a view of {ShapeString} must keep its {Length} elements, got [{string.Join(", ", shape.ToArray())}]");
        return view;
    }

    /// <summary>CPU backend only: the element pointer.</summary>
    internal unsafe float* Ptr
    {
        get
        {
            if (Handle == 0) throw new ObjectDisposedException(nameof(Tensor));
            return (float*)Handle;
        }
    }

    /// <summary>CPU backend only: a span over the elements.</summary>
    internal unsafe Span<float> Span => new(Ptr, Length);

    public string ShapeString => "[" + string.Join(", ", _shape) + "]";

    public override string ToString() => $"Tensor{ShapeString} on {Backend.Name}";

    public void Dispose()
    {
        if (Handle == 0) return;
        if (!_isView) Backend.Free(this);
        Handle = 0;
    }

    /// <summary>Copies the tensor to a new host array.</summary>
    public float[] ToArray()
    {
        var a = new float[Length];
        Backend.Download(this, a);
        return a;
    }
}
