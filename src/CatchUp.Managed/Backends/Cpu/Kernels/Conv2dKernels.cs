using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CatchUp.Tensors;
using Tensor = CatchUp.Tensors.Tensor;

namespace CatchUp.Backends.Cpu.Kernels;

/// <summary>
/// 2-d convolution, k in {1, 3}, padding k/2, stride 1, NCHW float32.
/// <para>Design ("padded wide rows", no im2col): each sample's input is copied into a zero-padded scratch image
/// [C][PadStride] whose rows are Wp = W + 2P long. A "wide" output position q = y*Wp + x (x in [0, Wp), the last 2P
/// columns being garbage) is then out[co, q] = sum_{ci, tap} w[co, ci, tap] * pad[ci, q + dy*Wp + dx]: a GEMM whose
/// B operand rows are contiguous slices of the padded image at per-(ci, tap) offsets. Backward-data is the same GEMM
/// with the transposed, flipped kernel over the zero-padded dy; backward-weight is an NT GEMM reducing over positions,
/// dW[co, ci, tap] = sum_q dyWide[co, q] * pad[ci, q + off(tap)], where dyWide is the padded dy shifted by P*Wp + P
/// (its garbage columns fall on padding and are therefore zero).</para>
/// <para>Parallelism: forward over samples (and output-channel blocks when N is small); backward over fixed sample
/// chunks (chosen from N only), each with its own dW/dbias partial, reduced in chunk order at the end, so results are
/// bit-identical for any thread count.</para>
/// </summary>
internal static unsafe class Conv2dKernels
{
    /// <summary>Test hook: forces a SIMD path for calls made from this thread (null = best available).</summary>
    [ThreadStatic] internal static ConvSimd? ForceSimd;

    /// <summary>Benchmark hook: Backward computes only dx (no dw, no dbias) for calls made from this thread.</summary>
    [ThreadStatic] internal static bool BenchDataOnly;

    /// <summary>Test hook: the AVX-512 weight gradient sums lanes per tile (the path used when the lane partials would
    /// exceed <see cref="MaxVecPartialFloats"/>, e.g. 256->256 channels) instead of keeping lane partials.</summary>
    [ThreadStatic] internal static bool ForceLaneSums;

    /// <remarks>The runtime reports Vector512.IsHardwareAccelerated = false on Xeons where it merely prefers 256-bit
    /// vectors (Skylake-X / Cascade Lake, unless DOTNET_PreferredVectorBitWidth=512), yet Vector512 code still compiles
    /// to zmm instructions whenever Avx512F is supported, and these FMA-bound GEMMs run faster with it; so Avx512F decides.</remarks>
    internal static ConvSimd Simd => ForceSimd ?? (Vector512.IsHardwareAccelerated || Avx512F.IsSupported ? ConvSimd.V512
        : Vector256.IsHardwareAccelerated ? ConvSimd.V256 : ConvSimd.Scalar);

    private const int Mr = ConvMicroKernels.Mr;
    private const int MaxChunks = 8;

    // ------------------------------------------------------------------------------------------------ geometry
    private readonly struct Geo
    {
        public readonly int N, Cin, Cout, H, W, K, P, KK, Wp, HW, Pw, PwR, PadStride;

        public Geo(Tensor x, Tensor w)
        {
            if (x.Rank != 4 || w.Rank != 4) throw new ArgumentException($"conv2d expects 4-d x and w, got {x.ShapeString} and {w.ShapeString}");
            N = x.N; Cin = x.C; H = x.H; W = x.W; Cout = w.Dim(0); K = w.Dim(2);
            if (w.Dim(1) != Cin || w.Dim(3) != K || (K != 1 && K != 3))
                throw new ArgumentException($"conv2d weight {w.ShapeString} does not fit input {x.ShapeString} (k must be 1 or 3)");
            P = K / 2; KK = K * K; Wp = W + 2 * P; HW = H * W;
            Pw = H * Wp;
            PwR = (Pw + 15) & ~15;
            PadStride = (PwR + (K - 1) * (Wp + 1) + 15) & ~15;
        }

        public void CheckOut(Tensor y, string name)
        {
            if (y.Rank != 4 || y.N != N || y.C != Cout || y.H != H || y.W != W)
                throw new ArgumentException($"conv2d {name} has shape {y.ShapeString}, expected [{N}, {Cout}, {H}, {W}]");
        }
    }

    /// <summary>Copies C planes [H][W] into zero-padded wide rows: dst[c*PadStride + (y+P)*Wp + x+P] = src[c][y][x].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pad(in Geo g, float* src, float* dst, int channels)
    {
        for (int c = 0; c < channels; c++)
        {
            float* d = dst + (long)c * g.PadStride;
            float* s = src + (long)c * g.HW;
            if (g.P == 0)
            {
                Buffer.MemoryCopy(s, d, (long)g.HW * 4, (long)g.HW * 4);
                NativeMemory.Clear(d + g.HW, (nuint)((g.PadStride - g.HW) * 4));
                continue;
            }
            NativeMemory.Clear(d, (nuint)(g.PadStride * 4));
            float* row = d + g.Wp + 1;
            for (int y = 0; y < g.H; y++, row += g.Wp, s += g.W)
                new ReadOnlySpan<float>(s, g.W).CopyTo(new Span<float>(row, g.W));
        }
    }

    /// <summary>dst[y][x] = src[y*Wp + x] + add for the valid columns of a wide plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Unwide(in Geo g, float* src, float* dst, float add)
    {
        if (g.P == 0)
        {
            var d = new Span<float>(dst, g.HW);
            if (add == 0f) new ReadOnlySpan<float>(src, g.HW).CopyTo(d);
            else TensorPrimitives.Add(new ReadOnlySpan<float>(src, g.HW), add, d);
            return;
        }
        int w = g.W;
        if (w >= 16 && (Vector512.IsHardwareAccelerated || Avx512F.IsSupported))
        {
            // whole vectors, the last one overlapping the previous (rows are short: 7..32)
            var av = Vector512.Create(add);
            for (int y = 0; y < g.H; y++, src += g.Wp, dst += w)
            {
                for (int x = 0; x < w; x += 16)
                {
                    int xx = Math.Min(x, w - 16);
                    (Vector512.Load(src + xx) + av).Store(dst + xx);
                }
            }
            return;
        }
        for (int y = 0; y < g.H; y++, src += g.Wp, dst += w)
            for (int x = 0; x < w; x++) dst[x] = src[x] + add;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillOffsets(in Geo g, int* offs, int channels)
    {
        for (int c = 0; c < channels; c++)
            for (int t = 0; t < g.KK; t++)
                offs[c * g.KK + t] = c * g.PadStride + (t / g.K) * g.Wp + t % g.K;
    }

    // ------------------------------------------------------------------------------------------------ forward
    private struct FwdJob : IParallelJob
    {
        public Geo G;
        public ConvSimd Simd;
        public float* X, Y, Bias, Wp;
        public int* Offs;
        public float** Scratch; // per worker: [pad, wide out]
        public int Blocks, Parts;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int index, int worker)
        {
            int n = index / Parts, part = index % Parts;
            int b0 = part * Blocks / Parts, b1 = (part + 1) * Blocks / Parts;
            if (b0 == b1) return;
            float* pad = Scratch[worker * 2], outw = Scratch[worker * 2 + 1];
            Pad(G, X + (long)n * G.Cin * G.HW, pad, G.Cin);
            int kdim = G.Cin * G.KK, tw = ConvMicroKernels.TileWidth(Simd), kc = ChannelsPerPanel(G, tw);
            // tile-outer, channel-chunk, block-inner: the B panel of a chunk (~16 KB) stays in L1 across all output blocks
            for (int p0 = 0; p0 < G.Pw; p0 += tw)
            {
                int width = Math.Min(tw, G.Pw - p0);
                for (int c0 = 0; c0 < G.Cin; c0 += kc)
                {
                    int kn = Math.Min(kc, G.Cin - c0) * G.KK;
                    for (int blk = b0; blk < b1; blk++)
                        ConvMicroKernels.Tile(Simd, Wp + ((long)blk * kdim + c0 * G.KK) * Mr, pad + p0, Offs + c0 * G.KK, kn,
                            outw + (long)(blk - b0) * Mr * G.PwR + p0, G.PwR, width, c0 > 0);
                }
            }
            int coEnd = Math.Min(G.Cout, b1 * Mr);
            for (int co = b0 * Mr; co < coEnd; co++)
                Unwide(G, outw + (long)(co - b0 * Mr) * G.PwR, Y + ((long)n * G.Cout + co) * G.HW, Bias != null ? Bias[co] : 0f);
        }
    }

    /// <summary>Reduction channels per K chunk so that one B panel (tile width plus the 3x3 halo, per channel) is ~16 KB.</summary>
    private const int PanelBytes = 16384;
    private static int ChannelsPerPanel(in Geo g, int tw) => Math.Max(1, PanelBytes / (4 * (tw + (g.K - 1) * (g.Wp + 1))));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(WorkerPool pool, Tensor x, Tensor w, Tensor? bias, Tensor y, ConvAlgorithm algorithm = ConvAlgorithm.Direct)
    {
        var g = new Geo(x, w);
        g.CheckOut(y, "output");
        if (bias != null && bias.Length != g.Cout) throw new ArgumentException($"conv2d bias {bias.ShapeString} for {g.Cout} output channels");
        if (g.N == 0 || g.HW == 0 || g.Cout == 0) return;
        if (g.Cin == 0) { FillBias(g, y.Ptr, bias); return; }
        if (g.K == 3 && algorithm.WinogradTile() is int m)
        {
            WinogradKernels.Forward(pool, m, x.Ptr, w.Ptr, bias != null ? bias.Ptr : null, y.Ptr, g.N, g.Cin, g.Cout, g.H, g.W);
            return;
        }

        int blocks = (g.Cout + Mr - 1) / Mr, kdim = g.Cin * g.KK;
        long wpLen = (long)blocks * kdim * Mr;
        float* shared = pool.Scratch(0, 3, wpLen + kdim + 16);
        float* wpk = shared;
        int* offs = (int*)(shared + wpLen);
        float* wsrc = w.Ptr;
        for (int blk = 0; blk < blocks; blk++)
            for (int k = 0; k < kdim; k++)
                for (int r = 0; r < Mr; r++)
                {
                    int co = blk * Mr + r;
                    wpk[((long)blk * kdim + k) * Mr + r] = co < g.Cout ? wsrc[(long)co * kdim + k] : 0f;
                }
        FillOffsets(g, offs, g.Cin);

        int threads = pool.Threads;
        float** scratch = stackalloc float*[threads * 2];
        for (int t = 0; t < threads; t++)
        {
            scratch[t * 2] = pool.Scratch(t, 0, (long)g.Cin * g.PadStride);
            scratch[t * 2 + 1] = pool.Scratch(t, 1, (long)blocks * Mr * g.PwR);
        }
        int parts = threads == 1 ? 1 : Math.Clamp((4 * threads + g.N - 1) / g.N, 1, blocks);
        var job = new FwdJob
        {
            G = g, Simd = Simd, X = x.Ptr, Y = y.Ptr, Bias = bias != null ? bias.Ptr : null, Wp = wpk, Offs = offs,
            Scratch = scratch, Blocks = blocks, Parts = parts,
        };
        pool.For(g.N * parts, ref job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillBias(in Geo g, float* y, Tensor? bias)
    {
        for (int n = 0; n < g.N; n++)
            for (int co = 0; co < g.Cout; co++)
                new Span<float>(y + ((long)n * g.Cout + co) * g.HW, g.HW).Fill(bias != null ? bias.Ptr[co] : 0f);
    }

    // ------------------------------------------------------------------------------------------------ backward
    private struct BwdJob : IParallelJob
    {
        public Geo G;
        public ConvSimd Simd;
        public float* X, Dy, Dx, WpT, Partials;
        public int* OffsB, ColOff;
        public float** Scratch; // per worker: [padX, padDy, wide dx]
        public int Chunks, Parts, Group, CiBlocks, CoBlocks;
        public long PartialStride;
        public bool WantBias, VecPartials;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int index, int worker)
        {
            int chunk = index / Parts, part = index % Parts;
            int s0 = (int)((long)chunk * G.N / Chunks), s1 = (int)((long)(chunk + 1) * G.N / Chunks);
            int cb0 = part * CiBlocks / Parts, cb1 = (part + 1) * CiBlocks / Parts;
            int ob0 = part * CoBlocks / Parts, ob1 = (part + 1) * CoBlocks / Parts;
            int ncol = G.Cin * G.KK;
            float* gw = Partials + chunk * PartialStride;
            float* gb = gw + (long)G.Cout * ncol;
            int coLo = ob0 * ConvMicroKernels.WgtRows, coHi = Math.Min(G.Cout, ob1 * ConvMicroKernels.WgtRows);
            if (coHi > coLo) NativeMemory.Clear(gw + (long)coLo * ncol, (nuint)((long)(coHi - coLo) * ncol * 4));
            bool doBias = WantBias && part == 0;
            if (doBias) NativeMemory.Clear(gb, (nuint)(G.Cout * 4));
            if (cb1 == cb0 && ob1 == ob0 && !doBias) return;

            float* padX = Scratch[worker * 3], dxw = Scratch[worker * 3 + 2];
            // shift the padded dy so that its wide view (offset P*Wp + P) starts on a 64-byte boundary: the weight
            // kernel's four dy streams are then aligned loads (PadStride is a multiple of 16 floats)
            float* padDy = Scratch[worker * 3 + 1] + (16 - (G.P * G.Wp + G.P) % 16) % 16;
            long xs = (long)G.Cin * G.PadStride, ds = (long)G.Cout * G.PadStride;
            int tw = ConvMicroKernels.TileWidth(Simd), kdimB = G.Cout * G.KK, kc = ChannelsPerPanel(G, tw);
            int colTiles = (ncol + ConvMicroKernels.WgtCols - 1) / ConvMicroKernels.WgtCols;
            float* vp = VecPartials ? dxw + (long)CiBlocks * Mr * G.PwR : null;
            if (vp != null) NativeMemory.Clear(vp, (nuint)((long)(ob1 - ob0) * colTiles * VecTile * 4));
            int shift = G.P * G.Wp + G.P;
            for (int gs = s0; gs < s1; gs += Group)
            {
                int gn = Math.Min(Group, s1 - gs);
                for (int s = 0; s < gn; s++)
                {
                    float* dyn = Dy + (long)(gs + s) * G.Cout * G.HW;
                    Pad(G, dyn, padDy + s * ds, G.Cout);
                    if (ob1 > ob0) Pad(G, X + (long)(gs + s) * G.Cin * G.HW, padX + s * xs, G.Cin);
                    if (doBias)
                        for (int co = 0; co < G.Cout; co++)
                            gb[co] += TensorPrimitives.Sum(new ReadOnlySpan<float>(dyn + (long)co * G.HW, G.HW));
                }
                // backward-data: dx[ci] = sum over (co, tap') of flipped w * padded dy
                if (cb1 > cb0)
                    for (int s = 0; s < gn; s++)
                    {
                        float* b = padDy + s * ds;
                        for (int p0 = 0; p0 < G.Pw; p0 += tw)
                        {
                            int width = Math.Min(tw, G.Pw - p0);
                            for (int c0 = 0; c0 < G.Cout; c0 += kc)
                            {
                                int kn = Math.Min(kc, G.Cout - c0) * G.KK;
                                for (int blk = cb0; blk < cb1; blk++)
                                    ConvMicroKernels.Tile(Simd, WpT + ((long)blk * kdimB + c0 * G.KK) * Mr, b + p0, OffsB + c0 * G.KK, kn,
                                        dxw + (long)(blk - cb0) * Mr * G.PwR + p0, G.PwR, width, c0 > 0);
                            }
                        }
                        int ciEnd = Math.Min(G.Cin, cb1 * Mr);
                        for (int ci = cb0 * Mr; ci < ciEnd; ci++)
                            Unwide(G, dxw + (long)(ci - cb0 * Mr) * G.PwR, Dx + ((long)(gs + s) * G.Cin + ci) * G.HW, 0f);
                    }
                // backward-weight: dW[co, col] += sum_q dyWide[co, q] * padX[col offset + q]
                for (int ob = ob0; ob < ob1; ob++)
                {
                    int co0 = ob * ConvMicroKernels.WgtRows, rows = Math.Min(ConvMicroKernels.WgtRows, G.Cout - co0);
                    float* d = padDy + (long)co0 * G.PadStride + shift;
                    for (int c0 = 0, ct = 0; c0 < ncol; c0 += ConvMicroKernels.WgtCols, ct++)
                    {
                        int cols = Math.Min(ConvMicroKernels.WgtCols, ncol - c0);
                        if (vp != null)
                        {
                            // the lane partials (2.4 MB for 64x64x3x3) live beyond L2: fetch the next tile's early
                            if (Sse.IsSupported)
                            {
                                float* next = vp + ((long)(ob - ob0) * colTiles + ct + 1) * VecTile;
                                if (ct + 1 < colTiles || ob + 1 < ob1)
                                    for (int i = 0; i < VecTile; i += 16) Sse.Prefetch0(next + i);
                            }
                            ConvMicroKernels.WgtVec(d, G.PadStride, ds, rows, padX, xs, ColOff + c0, cols, gn, G.PwR,
                                vp + ((long)(ob - ob0) * colTiles + ct) * VecTile);
                        }
                        else
                            ConvMicroKernels.Wgt(Simd, d, G.PadStride, ds, rows, padX, xs, ColOff + c0, cols, gn, G.PwR, gw + (long)co0 * ncol + c0, ncol);
                    }
                }
            }
            if (vp != null)
            {
                // sum the lanes of the chunk's vector partials once
                for (int ob = ob0; ob < ob1; ob++)
                {
                    int co0 = ob * ConvMicroKernels.WgtRows, rows = Math.Min(ConvMicroKernels.WgtRows, G.Cout - co0);
                    for (int c0 = 0, ct = 0; c0 < ncol; c0 += ConvMicroKernels.WgtCols, ct++)
                    {
                        int cols = Math.Min(ConvMicroKernels.WgtCols, ncol - c0);
                        float* t = vp + ((long)(ob - ob0) * colTiles + ct) * VecTile;
                        for (int r = 0; r < rows; r++)
                            for (int j = 0; j < cols; j++)
                                gw[(long)(co0 + r) * ncol + c0 + j] += Vector512.Sum(Vector512.Load(t + (r * ConvMicroKernels.WgtCols + j) * 16));
                    }
                }
            }
        }
    }

    private const int VecTile = ConvMicroKernels.WgtRows * ConvMicroKernels.WgtCols * 16;
    private const long MaxVecPartialFloats = 4L << 20;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(WorkerPool pool, Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias,
        ConvAlgorithm algorithm = ConvAlgorithm.Direct) => Backward(pool, x, w, dy, dx, dw, dbias, algorithm, algorithm);

    /// <summary>Backward with one algorithm for the data gradient and another for the weight and bias gradients.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(WorkerPool pool, Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias,
        ConvAlgorithm data, ConvAlgorithm weight)
    {
        var g = new Geo(x, w);
        g.CheckOut(dy, "dy");
        if (dx != null && !dx.HasShape(x.Shape)) throw new ArgumentException($"conv2d dx {dx.ShapeString} differs from x {x.ShapeString}");
        if (!dw.HasShape(w.Shape)) throw new ArgumentException($"conv2d dw {dw.ShapeString} differs from w {w.ShapeString}");
        if (dbias != null && dbias.Length != g.Cout) throw new ArgumentException($"conv2d dbias {dbias.ShapeString} for {g.Cout} output channels");
        if (g.N == 0 || g.HW == 0) return;
        if (g.Cout == 0 || g.Cin == 0)
        {
            if (dx != null) dx.Span.Clear();
            if (g.Cout > 0 && dbias != null)
                for (int n = 0; n < g.N; n++)
                    for (int co = 0; co < g.Cout; co++)
                        dbias.Ptr[co] += TensorPrimitives.Sum(new ReadOnlySpan<float>(dy.Ptr + ((long)n * g.Cout + co) * g.HW, g.HW));
            return;
        }
        bool weights = !BenchDataOnly;
        int? dataM = g.K == 3 ? data.WinogradTile() : null, weightM = g.K == 3 ? weight.WinogradTile() : null;
        if (dataM == null && weightM == null) { DirectBackward(pool, g, x, w, dy, dx, dw, dbias, weights); return; }
        if (dx != null)
        {
            if (dataM is int m) WinogradKernels.Backward(pool, m, x.Ptr, w.Ptr, dy.Ptr, dx.Ptr, null, null, g.N, g.Cin, g.Cout, g.H, g.W, weights: false);
            else DirectBackward(pool, g, x, w, dy, dx, dw, dbias, weights: false);
        }
        if (!weights) return;
        if (weightM is int mw)
            WinogradKernels.Backward(pool, mw, x.Ptr, w.Ptr, dy.Ptr, null, dw.Ptr, dbias != null ? dbias.Ptr : null, g.N, g.Cin, g.Cout, g.H, g.W);
        else DirectBackward(pool, g, x, w, dy, null, dw, dbias, weights: true);
    }

    /// <summary>The direct backward: dx when given, and dw/dbias when <paramref name="weights"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DirectBackward(WorkerPool pool, in Geo g, Tensor x, Tensor w, Tensor dy, Tensor? dx, Tensor dw, Tensor? dbias, bool weights)
    {

        int ncol = g.Cin * g.KK, kdimB = g.Cout * g.KK;
        int ciBlocks = dx != null ? (g.Cin + Mr - 1) / Mr : 0;
        int coBlocks = !weights ? 0 : (g.Cout + ConvMicroKernels.WgtRows - 1) / ConvMicroKernels.WgtRows;
        int chunks = Math.Min(g.N, MaxChunks);
        long partialStride = ((long)g.Cout * ncol + g.Cout + 15) & ~15L;
        long wpLen = (long)ciBlocks * kdimB * Mr;
        long offLen = (kdimB + ncol + 31) & ~15L;
        float* shared = pool.Scratch(0, 3, wpLen + offLen + chunks * partialStride);
        float* wpT = shared;
        int* offsB = (int*)(shared + wpLen);
        int* colOff = offsB + kdimB;
        float* partials = shared + wpLen + offLen;

        // flipped, transposed kernel packed in 8-row blocks of input channels: wpT[blk][co*KK + t'][r] = w[co, ci, KK-1-t']
        float* wsrc = w.Ptr;
        for (int blk = 0; blk < ciBlocks; blk++)
            for (int co = 0; co < g.Cout; co++)
                for (int t = 0; t < g.KK; t++)
                {
                    float* dst = wpT + ((long)blk * kdimB + co * g.KK + t) * Mr;
                    for (int r = 0; r < Mr; r++)
                    {
                        int ci = blk * Mr + r;
                        dst[r] = ci < g.Cin ? wsrc[((long)co * g.Cin + ci) * g.KK + (g.KK - 1 - t)] : 0f;
                    }
                }
        FillOffsets(g, offsB, g.Cout);
        FillOffsets(g, colOff, g.Cin);

        // samples per weight-gradient tile call: enough positions (~512) to amortize the 24-vector partial load/store
        // of a tile, but no more (more samples push the padded x/dy out of L2 and were measured ~1.4x slower at 28x28)
        long perSample = (long)(g.Cin + g.Cout) * g.PadStride * 4;
        int group = (int)Math.Clamp(Math.Min((512 + g.PwR - 1) / g.PwR, Math.Max(1, (1L << 20) / Math.Max(1, perSample))), 1, 8);

        int colTiles = (ncol + ConvMicroKernels.WgtCols - 1) / ConvMicroKernels.WgtCols;
        long vecFloats = (long)coBlocks * colTiles * VecTile;
        bool vecPartials = Simd == ConvSimd.V512 && vecFloats <= MaxVecPartialFloats && !ForceLaneSums;

        int threads = pool.Threads;
        float** scratch = stackalloc float*[threads * 3];
        for (int t = 0; t < threads; t++)
        {
            scratch[t * 3] = pool.Scratch(t, 0, (long)group * g.Cin * g.PadStride);
            scratch[t * 3 + 1] = pool.Scratch(t, 1, (long)group * g.Cout * g.PadStride + 16);
            scratch[t * 3 + 2] = pool.Scratch(t, 2, (long)ciBlocks * Mr * g.PwR + (vecPartials ? vecFloats : 0));
        }
        int parts = threads == 1 ? 1 : Math.Clamp((4 * threads + chunks - 1) / chunks, 1, Math.Max(ciBlocks, coBlocks));
        var job = new BwdJob
        {
            G = g, Simd = Simd, X = x.Ptr, Dy = dy.Ptr, Dx = dx != null ? dx.Ptr : null, WpT = wpT, Partials = partials,
            OffsB = offsB, ColOff = colOff, Scratch = scratch, Chunks = chunks, Parts = parts, Group = group,
            CiBlocks = ciBlocks, CoBlocks = coBlocks, PartialStride = partialStride, WantBias = dbias != null && weights, VecPartials = vecPartials,
        };
        pool.For(chunks * parts, ref job);
        if (!weights) return;

        // deterministic reduction of the chunk partials, in chunk order
        long wl = (long)g.Cout * ncol;
        float* dwp = dw.Ptr;
        for (int c = 1; c < chunks; c++)
            TensorPrimitives.Add(new ReadOnlySpan<float>(partials, (int)wl), new ReadOnlySpan<float>(partials + c * partialStride, (int)wl),
                new Span<float>(partials, (int)wl));
        TensorPrimitives.Add(new ReadOnlySpan<float>(dwp, (int)wl), new ReadOnlySpan<float>(partials, (int)wl), new Span<float>(dwp, (int)wl));
        if (dbias != null)
        {
            float* db = dbias.Ptr;
            for (int co = 0; co < g.Cout; co++)
            {
                float s = 0f;
                for (int c = 0; c < chunks; c++) s += partials[c * partialStride + wl + co];
                db[co] += s;
            }
        }
    }
}
