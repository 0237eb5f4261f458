using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Nn;

/// <summary>A trainable tensor with its gradient and the initialization it was declared with (SPEC section 5).</summary>
public sealed class Parameter
{
    internal Parameter(string name, Tensor value, Tensor grad, ParameterInit init)
    {
        Name = name;
        Value = value;
        Grad = grad;
        Init = init;
    }

    /// <summary>The reference PyTorch state-dict key, e.g. <c>enc.28x28_block0.conv0.weight</c>.</summary>
    public string Name { get; }
    public Tensor Value { get; }
    public Tensor Grad { get; }
    public ParameterInit Init { get; }
    public ReadOnlySpan<int> Shape => Value.Shape;
    /// <summary>How the reference state-dict tensor maps onto <see cref="Value"/> when the layouts differ (null: same).</summary>
    public ReferenceLayout? Layout { get; internal set; }
    /// <summary>The shape of this parameter in a reference state dict.</summary>
    public ReadOnlySpan<int> ReferenceShape => Layout is { } l ? l.Shape : Value.Shape;

    public override string ToString() => $"{Name} {Value.ShapeString}";
}

/// <summary>
/// A parameter stored in another element order than the reference state dict's: internal[i] = reference[Gather[i]]
/// (a permutation), with the reference tensor of shape <see cref="Shape"/>. Used by the ADM network for nn.Embedding
/// weights (kept transposed, as a bias-free Linear) and attention qkv convolutions (output channels regrouped per head).
/// </summary>
public sealed class ReferenceLayout
{
    private readonly int[] _shape, _gather;

    public ReferenceLayout(int[] shape, int[] gather)
    {
        long length = 1;
        foreach (int d in shape) length *= d;
        if (length != gather.Length) throw new ArgumentException("a reference layout must be a permutation of the elements");
        var seen = new bool[gather.Length];
        foreach (int g in gather)
        {
            if (g < 0 || g >= gather.Length || seen[g]) throw new ArgumentException("a reference layout must be a permutation of the elements");
            seen[g] = true;
        }
        _shape = shape;
        _gather = gather;
    }

    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>The row-major transpose of a [rows, cols] reference tensor, stored as [cols, rows].</summary>
    public static ReferenceLayout Transpose(int rows, int cols)
    {
        var gather = new int[rows * cols];
        for (int c = 0; c < cols; c++)
            for (int r = 0; r < rows; r++) gather[c * rows + r] = r * cols + c;
        return new ReferenceLayout([rows, cols], gather);
    }

    /// <summary>Reorders the leading (row) axis of a reference tensor [rows, rest...] by <paramref name="rowOf"/>:
    /// internal row i is reference row rowOf[i].</summary>
    public static ReferenceLayout PermuteRows(int[] referenceShape, int[] rowOf)
    {
        int rows = referenceShape[0], rest = 1;
        for (int d = 1; d < referenceShape.Length; d++) rest *= referenceShape[d];
        if (rowOf.Length != rows) throw new ArgumentException("one source row per row");
        var gather = new int[rows * rest];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < rest; j++) gather[i * rest + j] = rowOf[i] * rest + j;
        return new ReferenceLayout(referenceShape, gather);
    }

    public float[] ToInternal(float[] reference)
    {
        var result = new float[_gather.Length];
        for (int i = 0; i < result.Length; i++) result[i] = reference[_gather[i]];
        return result;
    }

    public float[] ToReference(float[] internalValues)
    {
        var result = new float[_gather.Length];
        for (int i = 0; i < result.Length; i++) result[_gather[i]] = internalValues[i];
        return result;
    }
}

/// <summary>How a parameter is initialized: xavier-uniform with the given fans scaled by <see cref="Gain"/>, or a constant.</summary>
public readonly record struct ParameterInit(int FanIn, int FanOut, float Gain, float Constant = 0f)
{
    public static ParameterInit Zeros => new(0, 0, 0f, 0f);
    public static ParameterInit Ones => new(0, 0, 0f, 1f);
    public bool IsConstant => Gain == 0f;
}

/// <summary>Collects the parameters of a network in declaration order; layers declare theirs through it.</summary>
public sealed class ParameterSet
{
    private readonly List<Parameter> _list = new();
    private readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);
    private readonly List<string> _buffers = new();

    public ParameterSet(IBackend backend) => Backend = backend;

    public IBackend Backend { get; }
    /// <summary>Multiply-add FLOPs executed by the forward passes of the layers declared here (2 per MAC).</summary>
    public FlopTally Flops { get; } = new();
    public IReadOnlyList<Parameter> All => _list;
    public int Count => _list.Count;
    public long ElementCount => _list.Sum(p => (long)p.Value.Length);

    /// <summary>Names of the constant buffers a PyTorch state dict carries for this network (EDM's
    /// <c>*.resample_filter</c>, 0.25 everywhere, shape [1,1,2,2]): accepted on load, written on save.</summary>
    public IReadOnlyList<string> ResampleFilterBuffers => _buffers;

    public void DeclareResampleFilterBuffer(string name) => _buffers.Add(name);

    public Parameter this[string name] => _byName[name];
    public bool TryGet(string name, out Parameter parameter) => _byName.TryGetValue(name, out parameter!);

    public Parameter Declare(string name, ParameterInit init, params ReadOnlySpan<int> shape)
    {
        if (_byName.ContainsKey(name)) throw new InvalidOperationException($"parameter {name} declared twice");
        var p = new Parameter(name, Backend.Allocate(shape), Backend.Allocate(shape), init);
        _list.Add(p);
        _byName[name] = p;
        return p;
    }

    public void ZeroGrad()
    {
        foreach (var p in _list) Backend.Fill(p.Grad, 0f);
    }

    /// <summary>Initializes every parameter per its <see cref="ParameterInit"/>, deterministically from the seed and the name.</summary>
    public void Initialize(ulong seed)
    {
        foreach (var p in _list)
        {
            var host = new float[p.Value.Length];
            if (p.Init.IsConstant) Array.Fill(host, p.Init.Constant);
            else
            {
                double bound = Math.Sqrt(6.0 / (p.Init.FanIn + p.Init.FanOut)) * p.Init.Gain;
                ulong stream = CounterRng.Hash(seed, CounterRng.StableHash(p.Name));
                for (int i = 0; i < host.Length; i++)
                    host[i] = (float)(bound * (2.0 * CounterRng.Uniform(stream, (ulong)i) - 1.0));
            }
            Backend.Upload(host, p.Value);
        }
    }


    public void Dispose()
    {
        foreach (var p in _list) { p.Value.Dispose(); p.Grad.Dispose(); }
        _list.Clear();
        _byName.Clear();
    }
}

/// <summary>Counts forward FLOPs as layers run; reset it, run a pass, read <see cref="Total"/>.</summary>
public sealed class FlopTally
{
    public long Total { get; private set; }
    public void Add(long flops) => Total += flops;
    public void Reset() => Total = 0;
}
