using CatchUp.Backends;
using CatchUp.Nn;

namespace CatchUp.Training;

/// <summary>Keeps a shadow network's parameters at an exponential moving average of the trained one's.
/// Before <see cref="StartIteration"/> the shadow simply copies the weights (the reference's EMA start).</summary>
public sealed class EmaTracker(IBackend backend, ParameterSet source, ParameterSet shadow, float decay, long startIteration)
{
    public float Decay { get; } = decay;
    public long StartIteration { get; } = startIteration;

    public void Update(long iteration)
    {
        for (int i = 0; i < source.All.Count; i++)
        {
            if (iteration < StartIteration) backend.Copy(source.All[i].Value, shadow.All[i].Value);
            else backend.EmaUpdate(shadow.All[i].Value, source.All[i].Value, Decay);
        }
    }

    public void CopyFromSource()
    {
        for (int i = 0; i < source.All.Count; i++) backend.Copy(source.All[i].Value, shadow.All[i].Value);
    }
}
