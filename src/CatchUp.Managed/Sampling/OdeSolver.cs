using CatchUp.Backends;
using CatchUp.Tensors;

namespace CatchUp.Sampling;

/// <summary>
/// A solver for dz/dt = v(z, t) from t = 1 (noise) down to t = 0 (data), SPEC section 7. It integrates a whole batch in
/// place with one shared time grid and counts NFE, the velocity evaluations per sample. A solver keeps its scratch
/// tensors between calls (same shape: no allocation) and is not thread-safe.
/// </summary>
public abstract class OdeSolver : IDisposable
{
    private readonly Tensor?[] _scratch = new Tensor?[8];
    private Tensor? _t;
    private IVelocityField? _field;
    private int _nfe;

    /// <summary>The name <see cref="Solvers.Create"/> knows this solver by.</summary>
    public abstract string Name { get; }

    /// <summary>Integrates <paramref name="z"/> (z(1) on entry, z(0) on return) and returns the NFE it used. When
    /// <paramref name="recorder"/> is given it receives (z, t, v) at the start of every step and the final z.</summary>
    public int Solve(IVelocityField field, Tensor z, TrajectoryRecorder? recorder = null)
    {
        ArgumentNullException.ThrowIfNull(field);
        if (!ReferenceEquals(z.Backend, field.Backend)) throw new ArgumentException("z belongs to another backend than the velocity field", nameof(z));
        _field = field;
        _nfe = 0;
        Integrate(z, recorder);
        recorder?.Finish(z, 0);
        return _nfe;
    }

    protected abstract void Integrate(Tensor z, TrajectoryRecorder? recorder);

    protected IBackend Backend => _field!.Backend;

    /// <summary>Evaluations so far in the current solve.</summary>
    protected int Nfe => _nfe;

    /// <summary>v = v(z, t) for every sample; counts one NFE.</summary>
    protected void Evaluate(Tensor z, double t, Tensor v)
    {
        var times = Backend.Ensure(ref _t, z.N);
        Backend.Fill(times, (float)t);
        _field!.Evaluate(z, times, v);
        _nfe++;
    }

    /// <summary>Solver-owned scratch tensor number <paramref name="slot"/>, shaped like <paramref name="like"/>.</summary>
    protected Tensor Scratch(int slot, Tensor like) => Backend.Ensure(ref _scratch[slot], like.Shape);

    public void Dispose()
    {
        foreach (var t in _scratch) t?.Dispose();
        _t?.Dispose();
        GC.SuppressFinalize(this);
    }
}
