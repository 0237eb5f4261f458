using CatchUp.Tensors;

namespace CatchUp.Backends;

/// <summary>Inverted dropout drawn from a counter-based RNG: element i of the tensor is kept iff
/// <see cref="Nn.CounterRng.Uniform"/>(Seed, i) >= P; kept values are scaled by 1/(1-P). P = 0 disables it.</summary>
public readonly record struct DropoutSpec(float P, ulong Seed)
{
    public static readonly DropoutSpec None = new(0f, 0);
    public bool Active => P > 0f;
}

/// <summary>One Adam/AdamW update. Bias corrections are 1 - beta^step; weight decay is decoupled (AdamW) when
/// <see cref="Decoupled"/>, else added to the gradient (Adam with L2).</summary>
public readonly record struct AdamSpec(float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay, bool Decoupled, long Step);

/// <summary>One point of the Runge-Kutta catch-up chain (SPEC section 3): the direction is C1 k1 + C2 k2 + C3 k3 and
/// the time is t - TimeShift * dt, clamped to [Epsilon, 1] (the c(s) of SPEC 3) when <see cref="ClampTime"/>.</summary>
public readonly record struct CatchUpStep(float C1, float C2, float C3, float TimeShift, bool ClampTime, float Epsilon);

/// <summary>
/// The compute device. Every tensor argument must belong to this backend. Conventions:
/// activation gradients (dx) are overwritten; parameter gradients (dw, db, dgamma, dbeta) are accumulated (+=),
/// so a caller zeroes them once per step. A null optional gradient means "not needed". No op copies to the host
/// except the scalar-returning losses. Shapes are validated by the caller (layers); backends may assert.
/// </summary>
public interface IBackend : IDisposable
{
    string Name { get; }
    /// <summary>Worker threads the backend may use (CPU); 1 for devices that ignore it.</summary>
    int Threads { get; set; }

    // ---- memory ----
    /// <summary>Allocates a zero-filled tensor (served from the backend's pool where possible).</summary>
    Tensor Allocate(ReadOnlySpan<int> shape);
    /// <summary>Returns the tensor's memory to the pool. Called by <see cref="Tensor.Dispose"/>.</summary>
    void Free(Tensor t);
    void Upload(ReadOnlySpan<float> source, Tensor destination);
    void Download(Tensor source, Span<float> destination);
    /// <summary>Blocks until queued device work is done (no-op on CPU).</summary>
    void Synchronize();

    // ---- element-wise ----
    void Fill(Tensor y, float value);
    void Copy(Tensor source, Tensor destination);
    /// <summary>y = a*x + b*y.</summary>
    void Axpby(float a, Tensor x, float b, Tensor y);
    /// <summary>y = (a + b) * scale.</summary>
    void AddScale(Tensor a, Tensor b, float scale, Tensor y);
    void Silu(Tensor x, Tensor y);
    /// <summary>dx = dy * silu'(x).</summary>
    void SiluBackward(Tensor x, Tensor dy, Tensor dx);

    // ---- convolution: x [N,Cin,H,W], w [Cout,Cin,k,k] with k in {1,3}, padding k/2, stride 1 ----
    void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y);
    /// <summary>dx overwritten (if non-null); dw and dbias accumulated.</summary>
    void Conv2dBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias);

    // ---- resampling with the [1,1] filter ----
    /// <summary>2x2 average pooling, stride 2: y [N,C,H/2,W/2].</summary>
    void AvgPool2x(Tensor x, Tensor y);
    void AvgPool2xBackward(Tensor dy, Tensor dx);
    /// <summary>Nearest-neighbour 2x upsampling: y [N,C,2H,2W].</summary>
    void Upsample2x(Tensor x, Tensor y);
    void Upsample2xBackward(Tensor dy, Tensor dx);

    // ---- GroupNorm, fused with an optional per-(n,c) shift before it, SiLU and dropout after it ----
    /// <summary>
    /// u = x + shift[n,c] (shift [N,C] or null); y = dropout(act(gamma * (u - mean_g) * rstd_g + beta)) with act = SiLU when
    /// <paramref name="silu"/>, identity otherwise. Saves mean/rstd [N,groups] for the backward.
    /// </summary>
    void GroupNormForward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, float eps, bool silu,
        DropoutSpec dropout, Tensor y, Tensor mean, Tensor rstd);
    /// <summary>dx overwritten; dshift [N,C] overwritten (if non-null); dgamma, dbeta accumulated.</summary>
    void GroupNormBackward(Tensor x, Tensor? shift, Tensor gamma, Tensor beta, int groups, bool silu, DropoutSpec dropout,
        Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor? dshift, Tensor dgamma, Tensor dbeta);

    // ---- scale-shift modulation (ADM ResBlock with use_scale_shift_norm) ----
    /// <summary>
    /// y[n,c,i] = dropout(act(x[n,c,i] * (1 + ss[n,c]) + ss[n,C+c])) with x [N,C,...] (typically a GroupNorm output),
    /// ss [N,2C] (scale = first C columns, shift = last C, the halves of th.chunk(emb_out, 2, dim=1)), act = SiLU when
    /// <paramref name="silu"/>, identity otherwise, and dropout as in <see cref="DropoutSpec"/> keyed by the flat element
    /// index of x (the same convention as <see cref="GroupNormForward"/>: inverted dropout applied after act).
    /// </summary>
    void ScaleShiftForward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor y);
    /// <summary>
    /// Gradients of <see cref="ScaleShiftForward"/>: with g = dL/d(pre-activation) (dropout mask and act' applied to dy),
    /// dx = g * (1 + scale) and dScaleShift[n,c] = sum_i g * x, dScaleShift[n,C+c] = sum_i g; dx and dScaleShift are
    /// overwritten.
    /// </summary>
    void ScaleShiftBackward(Tensor x, Tensor scaleShift, bool silu, DropoutSpec dropout, Tensor dy, Tensor dx, Tensor dScaleShift);

    // ---- dense ----
    /// <summary>y [N,out] = x [N,in] W^T + b; W [out,in].</summary>
    void LinearForward(Tensor x, Tensor w, Tensor? bias, Tensor y);
    void LinearBackward(Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias);
    /// <summary>y [N,channels] = [sin(t*f), cos(t*f)], f_i = (1/10000)^(i/(channels/2-1)).</summary>
    void PositionalEmbedding(Tensor t, Tensor y);

    // ---- one-head self-attention on interleaved qkv [N,3C,H,W] (channel 3c+0 = q_c, 3c+1 = k_c, 3c+2 = v_c) ----
    /// <summary>y [N,C,H,W]; probs [N,P,P] (P = H*W) saved softmax weights when non-null (training).</summary>
    void AttentionForward(Tensor qkv, Tensor y, Tensor? probs);
    void AttentionBackward(Tensor qkv, Tensor probs, Tensor dy, Tensor dqkv);

    // ---- dynamic-skip concat along channels ----
    /// <summary>y = concat(a * scaleA[n], b * scaleB[n]) along C; a null scale means 1.</summary>
    void ConcatScaled(Tensor a, Tensor b, Tensor? scaleA, Tensor? scaleB, Tensor y);
    /// <summary>da, db overwritten with the scaled slices of dy.</summary>
    void ConcatScaledBackward(Tensor dy, Tensor? scaleA, Tensor? scaleB, Tensor da, Tensor db);

    // ---- per-sample arithmetic (a, b are [N] tensors of per-sample scalars, null = 1) ----
    /// <summary>y[n,...] = (ca * a[n]) * x[n,...] + (cb * b[n]) * y[n,...].</summary>
    void ScaleAddPerSample(Tensor x, Tensor? a, float ca, Tensor y, Tensor? b, float cb);
    /// <summary>y[n,...] = mask[n] != 0 ? ifTrue[n,...] : ifFalse[n,...].</summary>
    void SelectPerSample(Tensor mask, Tensor ifTrue, Tensor ifFalse, Tensor y);
    /// <summary>Encoder reparameterization: mu = first half of the channels, logvar = second half;
    /// x1 = mu + noise * exp(logvar / 2).</summary>
    void Reparameterize(Tensor muLogvar, Tensor noise, Tensor x1);
    /// <summary>dMuLogvar = d(x1)/d(mu, logvar) applied to dx1 (overwritten).</summary>
    void ReparameterizeBackward(Tensor muLogvar, Tensor noise, Tensor dx1, Tensor dMuLogvar);

    // ---- Runge-Kutta catch-up integration (SPEC section 3) ----
    /// <summary>
    /// In one pass: y[n,...] = z[n,...] - dt[n] * (C1 k1 + C2 k2 + C3 k3) (a null k2/k3 contributes nothing) and
    /// time[n] = t[n] - TimeShift * dt[n], clamped to [Epsilon, 1] when <see cref="CatchUpStep.ClampTime"/>.
    /// t, dt and time are [N]; y must not alias z or the k's.
    /// </summary>
    void CatchUpPoint(Tensor z, Tensor k1, Tensor? k2, Tensor? k3, Tensor t, Tensor dt, CatchUpStep step, Tensor y, Tensor time);

    // ---- optimizer ----
    void AdamStep(Tensor param, Tensor grad, Tensor m, Tensor v, AdamSpec spec);
    /// <summary>ema = decay * ema + (1 - decay) * param.</summary>
    void EmaUpdate(Tensor ema, Tensor param, float decay);
    /// <summary>Sum of squares (double accumulation) returned to the host; NaN/Inf propagate.</summary>
    double SumSquares(Tensor x);
    /// <summary>Sum of squares over all <paramref name="tensors"/> with one copy to the host (the trainer's
    /// finiteness check of every gradient); NaN/Inf propagate.</summary>
    double SumSquares(IReadOnlyList<Tensor> tensors);

    // ---- losses (return the scalar to the host) ----
    /// <summary>Returns mean((a-b)^2); when grad is non-null writes grad = gradScale * 2(a-b)/Length.</summary>
    float MseLoss(Tensor a, Tensor b, Tensor? grad, float gradScale);
    /// <summary>
    /// Encoder KL on mu = first half of channels of <paramref name="muLogvar"/>, logvar = second half:
    /// mean_n(0.5*sum_chw(-1 - logvar + mu^2 + exp(logvar))) / (C*H*W), C = half the channels.
    /// When grad is non-null writes d(gradScale*KL)/d(muLogvar).
    /// </summary>
    float KlLoss(Tensor muLogvar, Tensor? grad, float gradScale);
}
