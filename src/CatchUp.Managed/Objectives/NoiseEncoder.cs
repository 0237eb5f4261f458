using CatchUp.Backends;
using CatchUp.Models;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Objectives;

/// <summary>The reparameterized noise encoder of the Curvature baseline (SPEC section 2): a SongUNet with twice the
/// output channels called at t = 1; x1 = mu + n * exp(logvar / 2), regularized by weight_prior * KL.</summary>
public sealed class NoiseEncoder : IDisposable
{
    private readonly IBackend _b;
    private Tensor? _ones, _x1, _dMuLogvar, _dKl;

    /// <summary>The paper's encoder for <paramref name="decoder"/>, or <paramref name="encoder"/> when given.</summary>
    public NoiseEncoder(IVelocityModelConfig decoder, IBackend backend, SongUNetConfig? encoder = null)
    {
        _b = backend;
        Network = new SongUNet(encoder ?? SongUNetConfig.EncoderFor(decoder), backend);
    }

    public SongUNet Network { get; }
    private Tensor? _muLogvar, _noise;

    /// <summary>Encodes x0 (training mode) and returns x1 (encoder-owned) for the given standard-normal noise. A
    /// class-conditional encoder (label_dim &gt; 0) gets the batch's labels; an unconditional one ignores them.</summary>
    public Tensor Encode(Tensor x0, Tensor noise, ulong dropoutSeed, long sampleOffset = 0, int[]? labels = null)
    {
        var ones = _b.Ensure(ref _ones, x0.N);
        _b.Fill(ones, 1f);
        _muLogvar = Network.Forward(x0, ones, Network.Config.LabelDim > 0 ? labels : null, ForwardMode.Train(dropoutSeed, sampleOffset), computeHeads: false).V;
        _noise = noise;
        var x1 = _b.Ensure(ref _x1, noise.Shape);
        _b.Reparameterize(_muLogvar, noise, x1);
        return x1;
    }

    /// <summary>Backpropagates dL/dx1 plus weight * KL through the encoder; returns the KL value.</summary>
    public float Backward(Tensor dx1, float weightPrior)
    {
        var dMuLogvar = _b.Ensure(ref _dMuLogvar, _muLogvar!.Shape);
        _b.ReparameterizeBackward(_muLogvar, _noise!, dx1, dMuLogvar);
        var dKl = _b.Ensure(ref _dKl, _muLogvar.Shape);
        float kl = _b.KlLoss(_muLogvar, dKl, weightPrior);
        _b.Axpby(1f, dKl, 1f, dMuLogvar);
        Network.Backward(dMuLogvar);
        return kl;
    }

    public void Dispose() => Network.Dispose();
}
