using CatchUp.Backends;
using CatchUp.Nn;
using CatchUp.Tensors;

namespace CatchUp.Models;

/// <summary>Pieces shared by the velocity networks (<see cref="SongUNet"/>, <see cref="Adm.AdmUNet"/>).</summary>
internal static class NetworkParts
{
    /// <summary>Dynamic skip weights: phi_t = t(1-2phi)+phi, pos = 2 phi_t, neg = 2 - pos (both null when disabled).</summary>
    public static (Tensor? Pos, Tensor? Neg) SkipWeights(IBackend b, Tensor t, bool enabled, double phi, ref Tensor? pos, ref Tensor? neg)
    {
        if (!enabled) return (null, null);
        var p = b.Ensure(ref pos, t.Length);
        b.Fill(p, 2f * (float)phi);
        b.Axpby(2f * (1f - 2f * (float)phi), t, 1f, p);
        var q = b.Ensure(ref neg, t.Length);
        b.Fill(q, 2f);
        b.Axpby(-1f, p, 1f, q);
        return (p, q);
    }

    /// <summary>The main output and the extra heads on the decoder features.</summary>
    public static VelocityOutput Outputs(GroupNorm norm, Conv2d conv, ExtraHead[] heads, Tensor[] headOut, Tensor features, bool computeHeads)
    {
        var v = conv.Forward(norm.Forward(features, null, silu: true, DropoutSpec.None));
        if (computeHeads)
            for (int j = 0; j < heads.Length; j++) headOut[j] = heads[j].Forward(features);
        return new VelocityOutput(v, features, computeHeads ? headOut : Array.Empty<Tensor>());
    }

    /// <summary>dL/dfeatures from dL/dv, the heads' gradients (entries may be null) and a direct dL/dfeatures.</summary>
    public static Tensor OutputsBackward(IBackend b, GroupNorm norm, Conv2d conv, ExtraHead[] heads, Tensor dv,
        IReadOnlyList<Tensor?>? dHeads, Tensor? dFeatures)
    {
        var dh = norm.Backward(conv.Backward(dv)!);
        if (dHeads is not null)
            for (int j = 0; j < dHeads.Count && j < heads.Length; j++)
                if (dHeads[j] is { } dHead) b.Axpby(1f, heads[j].Backward(dHead), 1f, dh);
        if (dFeatures is not null) b.Axpby(1f, dFeatures, 1f, dh);
        return dh;
    }

    /// <summary>Splits dL/d(concat(h * pos, skip * neg)) into dL/dh (returned, in <paramref name="dh"/>) and dL/dskip.</summary>
    public static Tensor ConcatBackward(IBackend b, Tensor dCat, Tensor skip, Tensor? pos, Tensor? neg, ref Tensor? dh, ref Tensor? dSkip)
    {
        var dHPrev = b.Ensure(ref dh, dCat.N, dCat.C - skip.C, dCat.H, dCat.W);
        b.ConcatScaledBackward(dCat, pos, neg, dHPrev, b.Ensure(ref dSkip, skip.Shape));
        return dHPrev;
    }
}
