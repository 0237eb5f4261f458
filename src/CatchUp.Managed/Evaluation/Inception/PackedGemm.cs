using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CatchUp.Evaluation.Inception;

/// <summary>Which register-blocked kernel <see cref="PackedGemm"/> runs.</summary>
internal enum GemmPath
{
    /// <summary>8 x 32 tiles in 16 zmm accumulators (AVX-512).</summary>
    Vector512,
    /// <summary>8 x 16 tiles computed as two 4 x 16 halves in 8 ymm accumulators (AVX2, or portable elsewhere).</summary>
    Vector256,
}

/// <summary>
/// Single-threaded blocked SGEMM for inference convolutions: C[m, n] = act(A[m, k] B[k, n] + bias[m]).
/// A (the weights) is packed once at load time into panels of <see cref="Mr"/> rows stored [k][Mr]; B is packed
/// per call into strips of one <see cref="Kc"/> block x strip width, zero-padded at the edge, a chunk of strips at a time.
/// </summary>
internal static unsafe class PackedGemm
{
    public const int Mr = 8;
    public const int Kc = 256;
    public const int MaxStripWidth = 32;

    public static GemmPath DefaultPath => Avx512F.IsSupported ? GemmPath.Vector512 : GemmPath.Vector256;

    public static int StripWidth(GemmPath path) => path == GemmPath.Vector512 ? 32 : 16;

    /// <summary>B strips packed together and swept by each A panel in turn.</summary>
    public const int StripsPerChunk = 8;

    /// <summary>Floats the caller must provide as the packed-B buffer.</summary>
    public const int StripBufferFloats = Kc * MaxStripWidth * StripsPerChunk;

    public static int PaddedRows(int m) => (m + Mr - 1) / Mr * Mr;

    /// <summary>Packs row-major A[m, k] into panels: element (i, kk) lands at (i / Mr) * k * Mr + kk * Mr + i % Mr; padding rows are zero.</summary>
    public static float[] PackA(ReadOnlySpan<float> a, int m, int k)
    {
        if (a.Length != m * k) throw new ArgumentException($"A holds {a.Length} values, expected {m} x {k}", nameof(a));
        var packed = GC.AllocateArray<float>(PaddedRows(m) * k, pinned: true);
        for (int i = 0; i < m; i++)
        {
            int panel = i / Mr * k * Mr + i % Mr;
            for (int kk = 0; kk < k; kk++) packed[panel + kk * Mr] = a[i * k + kk];
        }
        return packed;
    }

    /// <summary>
    /// C = A B (+ bias per row, then ReLU when <paramref name="relu"/>). A packed by <see cref="PackA"/>;
    /// bias holds <see cref="PaddedRows"/>(m) values or is null; B rows are <paramref name="ldb"/> apart, C rows <paramref name="ldc"/>.
    /// </summary>
    public static void Multiply(GemmPath path, float* packedA, float* bias, int m, int k, float* b, int ldb, int n,
        float* c, int ldc, bool relu, float* strips)
    {
        int nr = StripWidth(path);
        int panels = (m + Mr - 1) / Mr;
        float* edge = stackalloc float[Mr * MaxStripWidth];
        // Equal K blocks of at most Kc: no short trailing block that would re-load and re-store C for a few products.
        int blockK = (k + (k + Kc - 1) / Kc - 1) / ((k + Kc - 1) / Kc);
        for (int k0 = 0; k0 < k; k0 += blockK)
        {
            int kc = Math.Min(blockK, k - k0);
            bool accumulate = k0 > 0;
            bool last = k0 + kc == k;
            // Pack up to StripsPerChunk strips of this K block (L2), then sweep every A panel over them: each panel's
            // K slice stays in L1 across the strips, so A is streamed once per chunk rather than once per strip.
            for (int chunk0 = 0; chunk0 < n; chunk0 += StripsPerChunk * nr)
            {
                int chunkEnd = Math.Min(n, chunk0 + StripsPerChunk * nr);
                for (int j0 = chunk0; j0 < chunkEnd; j0 += nr)
                    PackStrip(b + (long)k0 * ldb + j0, ldb, kc, Math.Min(nr, n - j0), nr, strips + (long)(j0 - chunk0) * kc);
                for (int p = 0; p < panels; p++)
                {
                    int rows = Math.Min(Mr, m - p * Mr);
                    float* a = packedA + (long)p * k * Mr + (long)k0 * Mr;
                    float* tileBias = last && bias != null ? bias + p * Mr : null;
                    for (int j0 = chunk0; j0 < chunkEnd; j0 += nr)
                    {
                        int cols = Math.Min(nr, n - j0);
                        float* strip = strips + (long)(j0 - chunk0) * kc;
                        float* ct = c + (long)p * Mr * ldc + j0;
                        if (rows == Mr && cols == nr)
                        {
                            Tile(path, a, strip, kc, ct, ldc, accumulate, tileBias, last && relu);
                        }
                        else
                        {
                            if (accumulate) CopyTile(ct, ldc, edge, nr, rows, cols);
                            Tile(path, a, strip, kc, edge, nr, accumulate, tileBias, last && relu);
                            CopyTile(edge, nr, ct, ldc, rows, cols);
                        }
                    }
                }
            }
        }
    }

    private static void CopyTile(float* from, int ldFrom, float* to, int ldTo, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(from + (long)r * ldFrom, cols).CopyTo(new Span<float>(to + (long)r * ldTo, cols));
    }

    /// <summary>Copies B[0..kc, 0..cols] into strip[kk * nr + j], zero-filling columns cols..nr.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackStrip(float* b, int ldb, int kc, int cols, int nr, float* strip)
    {
        if (cols == nr)
        {
            for (int kk = 0; kk < kc; kk++)
            {
                float* src = b + (long)kk * ldb;
                float* dst = strip + kk * nr;
                for (int j = 0; j < nr; j += 16) Vector512.Store(Vector512.Load(src + j), dst + j);
            }
            return;
        }
        for (int kk = 0; kk < kc; kk++)
        {
            float* src = b + (long)kk * ldb;
            float* dst = strip + kk * nr;
            int j = 0;
            for (; j < cols; j++) dst[j] = src[j];
            for (; j < nr; j++) dst[j] = 0f;
        }
    }

    private static void Tile(GemmPath path, float* a, float* b, int kc, float* c, int ldc, bool accumulate, float* bias, bool relu)
    {
        if (path == GemmPath.Vector512)
        {
            Tile8x32(a, b, kc, c, ldc, accumulate, bias, relu);
        }
        else
        {
            Tile4x16(a, b, kc, c, ldc, accumulate, bias, relu);
            Tile4x16(a + 4, b, kc, c + 4L * ldc, ldc, accumulate, bias == null ? null : bias + 4, relu);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x32(float* a, float* b, int kc, float* c, int ldc, bool accumulate, float* bias, bool relu)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        if (accumulate)
        {
            float* r = c;
            c00 = Vector512.Load(r); c01 = Vector512.Load(r + 16); r += ldc;
            c10 = Vector512.Load(r); c11 = Vector512.Load(r + 16); r += ldc;
            c20 = Vector512.Load(r); c21 = Vector512.Load(r + 16); r += ldc;
            c30 = Vector512.Load(r); c31 = Vector512.Load(r + 16); r += ldc;
            c40 = Vector512.Load(r); c41 = Vector512.Load(r + 16); r += ldc;
            c50 = Vector512.Load(r); c51 = Vector512.Load(r + 16); r += ldc;
            c60 = Vector512.Load(r); c61 = Vector512.Load(r + 16); r += ldc;
            c70 = Vector512.Load(r); c71 = Vector512.Load(r + 16);
        }
        for (int kk = 0; kk < kc; kk++, a += Mr, b += 32)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
        }
        StoreRow512(c, c00, c01, bias, 0, relu); c += ldc;
        StoreRow512(c, c10, c11, bias, 1, relu); c += ldc;
        StoreRow512(c, c20, c21, bias, 2, relu); c += ldc;
        StoreRow512(c, c30, c31, bias, 3, relu); c += ldc;
        StoreRow512(c, c40, c41, bias, 4, relu); c += ldc;
        StoreRow512(c, c50, c51, bias, 5, relu); c += ldc;
        StoreRow512(c, c60, c61, bias, 6, relu); c += ldc;
        StoreRow512(c, c70, c71, bias, 7, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow512(float* c, Vector512<float> v0, Vector512<float> v1, float* bias, int row, bool relu)
    {
        if (bias != null)
        {
            var bv = Vector512.Create(bias[row]);
            v0 += bv;
            v1 += bv;
        }
        if (relu)
        {
            v0 = Vector512.Max(v0, Vector512<float>.Zero);
            v1 = Vector512.Max(v1, Vector512<float>.Zero);
        }
        Vector512.Store(v0, c);
        Vector512.Store(v1, c + 16);
    }

    /// <summary>Rows 0..3 of an A panel (which is Mr wide) times a 16-wide B strip.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x16(float* a, float* b, int kc, float* c, int ldc, bool accumulate, float* bias, bool relu)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        if (accumulate)
        {
            float* r = c;
            c00 = Vector256.Load(r); c01 = Vector256.Load(r + 8); r += ldc;
            c10 = Vector256.Load(r); c11 = Vector256.Load(r + 8); r += ldc;
            c20 = Vector256.Load(r); c21 = Vector256.Load(r + 8); r += ldc;
            c30 = Vector256.Load(r); c31 = Vector256.Load(r + 8);
        }
        for (int kk = 0; kk < kc; kk++, a += Mr, b += 16)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
            Vector256<float> x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
        }
        StoreRow256(c, c00, c01, bias, 0, relu); c += ldc;
        StoreRow256(c, c10, c11, bias, 1, relu); c += ldc;
        StoreRow256(c, c20, c21, bias, 2, relu); c += ldc;
        StoreRow256(c, c30, c31, bias, 3, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow256(float* c, Vector256<float> v0, Vector256<float> v1, float* bias, int row, bool relu)
    {
        if (bias != null)
        {
            var bv = Vector256.Create(bias[row]);
            v0 += bv;
            v1 += bv;
        }
        if (relu)
        {
            v0 = Vector256.Max(v0, Vector256<float>.Zero);
            v1 = Vector256.Max(v1, Vector256<float>.Zero);
        }
        Vector256.Store(v0, c);
        Vector256.Store(v1, c + 8);
    }
}
