using ILGPU;

namespace CatchUp.Backends.Ilgpu.Kernels;

/// <summary>An M x K (left) or K x N (right) factor of a batched product, read element by element.</summary>
internal interface IMatrixOperand
{
    float Load(int batch, int row, int col);
}

/// <summary>A dense matrix inside a view: element (b, r, c) is Data[Offset + b BatchStride + r RowStride + c ColStride],
/// so transposes and the interleaved q/k/v rows of attention are just strides.</summary>
internal readonly record struct StridedMatrix(ArrayView<float> Data, long Offset, long BatchStride, int RowStride, int ColStride)
    : IMatrixOperand
{
    public float Load(int batch, int row, int col) => Data[Offset + batch * BatchStride + (long)row * RowStride + (long)col * ColStride];
}

/// <summary>The product's destination: C = Alpha acc + Beta C (Beta = 0 overwrites, ignoring what was there).</summary>
internal readonly record struct GemmTarget(ArrayView<float> Data, long Offset, long BatchStride, int RowStride, int ColStride,
    float Alpha, float Beta)
{
    public void Store(int batch, int row, int col, float acc)
    {
        long i = Offset + batch * BatchStride + (long)row * RowStride + (long)col * ColStride;
        Data[i] = Beta == 0f ? Alpha * acc : Alpha * acc + Beta * Data[i];
    }
}

/// <summary>Sizes of a batched product C[b] (M x N) = A[b] (M x K) B[b] (K x N), computed in Tile x Tile output tiles
/// by groups of Tile^2 threads, K consumed Depth at a time.</summary>
internal readonly record struct GemmShape(int Batch, int M, int N, int K, int Tile, int Depth)
{
    public int TilesM => (M + Tile - 1) / Tile;
    public int TilesN => (N + Tile - 1) / Tile;
    public long Tiles => (long)Batch * TilesM * TilesN;
    /// <summary>Floats of shared memory: a Tile x Depth slab of A and a Depth x Tile slab of B.</summary>
    public int SharedFloats => 2 * Tile * Depth;
}

/// <summary>
/// The shared-memory tiled GEMM behind convolution (implicit GEMM: the operands gather image patches on the fly, see
/// <see cref="ConvPatches"/>), Linear and attention. Each group owns one output tile at a time (grid-stride over tiles)
/// and walks K in slabs of Depth: a Tile x Depth slab of A and a Depth x Tile slab of B are staged in dynamic shared
/// memory, then each thread accumulates its output element in float, in the same k order for every launch shape.
/// Barriers per output element fall as Depth grows, which is what makes the CPU accelerator bearable.
/// </summary>
internal static class GemmKernels
{
    public static void Tiled<TA, TB>(TA a, TB b, GemmTarget c, GemmShape shape)
        where TA : struct, IMatrixOperand
        where TB : struct, IMatrixOperand
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tile = shape.Tile, depth = shape.Depth, slab = tile * depth;
        int tx = Group.IdxX % tile, ty = Group.IdxX / tile;
        int perBatch = shape.TilesM * shape.TilesN;
        for (long t = Grid.IdxX; t < shape.Tiles; t += Grid.DimX)
        {
            int batch = (int)(t / perBatch), r = (int)(t - (long)batch * perBatch);
            int tm = r / shape.TilesN, tn = r - tm * shape.TilesN;
            int row0 = tm * tile, col0 = tn * tile;
            float acc = 0f;
            for (int k0 = 0; k0 < shape.K; k0 += depth)
            {
                for (int e = Group.IdxX; e < slab; e += Group.DimX)
                {
                    int ar = e / depth, ak = e - ar * depth;   // A slab [tile][depth]
                    shared[e] = row0 + ar < shape.M && k0 + ak < shape.K ? a.Load(batch, row0 + ar, k0 + ak) : 0f;
                    int bk = e / tile, bc = e - bk * tile;     // B slab [depth][tile]
                    shared[slab + e] = k0 + bk < shape.K && col0 + bc < shape.N ? b.Load(batch, k0 + bk, col0 + bc) : 0f;
                }
                Group.Barrier();
                for (int kk = 0; kk < depth; kk++) acc += shared[ty * depth + kk] * shared[slab + kk * tile + tx];
                Group.Barrier();
            }
            if (row0 + ty < shape.M && col0 + tx < shape.N) c.Store(batch, row0 + ty, col0 + tx, acc);
        }
    }
}
