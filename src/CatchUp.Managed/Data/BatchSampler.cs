using CatchUp.Nn;

namespace CatchUp.Data;

/// <summary>
/// Where a <see cref="BatchSampler"/> stands: enough to continue the exact same sequence of batches after a restart.
/// The sampler's randomness is counter-based (a hash of the seed, the epoch and the position), so the seed together
/// with (epoch, position) is the whole RNG state. <see cref="DatasetCount"/> guards against resuming on other data.
/// </summary>
public readonly record struct BatchSamplerState(ulong Seed, long Epoch, int Position, int DatasetCount)
{
    /// <summary>No data drawn yet, on no particular data set (runs imported from the PyTorch reference).</summary>
    public static BatchSamplerState Fresh => default;
}

/// <summary>
/// Draws training batches from an <see cref="ImageDataset"/>: each epoch visits every image exactly once in a fresh
/// seeded shuffle, a batch that runs past the end of an epoch continues into the next, and images are optionally
/// flipped left-right at random (CIFAR-10). Drawing a batch allocates nothing.
/// </summary>
public sealed class BatchSampler
{
    private const ulong FlipSalt = 0x6A09E667F3BCC909UL;

    private readonly ImageDataset _dataset;
    private readonly int[] _permutation;
    private long _permutationEpoch = -1;
    private ulong _seed;
    private long _epoch;
    private int _position;

    public BatchSampler(ImageDataset dataset, int batchSize, ulong seed, bool randomFlip = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _dataset = dataset;
        _permutation = new int[dataset.Count];
        _seed = seed;
        BatchSize = batchSize;
        RandomFlip = randomFlip;
    }

    public ImageDataset Dataset => _dataset;
    public int BatchSize { get; }
    public bool RandomFlip { get; }

    /// <summary>Completed passes over the data set.</summary>
    public long Epoch => _epoch;

    /// <summary>How many images of the current epoch have been drawn.</summary>
    public int Position => _position;

    /// <summary>The length <see cref="NextBatch(Span{float}, Span{int})"/> needs for its destination: BatchSize x C x H x W.</summary>
    public int BatchElements => BatchSize * _dataset.ImageSize;

    public BatchSamplerState GetState() => new(_seed, _epoch, _position, _dataset.Count);

    public void SetState(BatchSamplerState state)
    {
        // An imported run (catchup import) has no data position: it starts at the first batch of epoch 0.
        if (state == BatchSamplerState.Fresh) return;
        if (state.DatasetCount != _dataset.Count)
            throw new ArgumentException($"the state is for a data set of {state.DatasetCount} images, this one has {_dataset.Count}", nameof(state));
        if (state.Epoch < 0 || state.Position < 0 || state.Position >= _dataset.Count)
            throw new ArgumentException($"invalid sampler state: epoch {state.Epoch}, position {state.Position} of {_dataset.Count}", nameof(state));
        _seed = state.Seed;
        _epoch = state.Epoch;
        _position = state.Position;
        _permutationEpoch = -1;
    }

    /// <summary>Fills <paramref name="destination"/> ([BatchSize, C, H, W]) and <paramref name="labels"/> ([BatchSize]) with the next batch.</summary>
    public void NextBatch(Span<float> destination, Span<int> labels) => NextBatch(destination, labels, indices: default);

    /// <summary>As <see cref="NextBatch(Span{float}, Span{int})"/>, also reporting which data set images were drawn (empty to skip).</summary>
    public void NextBatch(Span<float> destination, Span<int> labels, Span<int> indices)
    {
        if (destination.Length != BatchElements)
            throw new ArgumentException($"destination has {destination.Length} floats, a batch of {BatchSize} images of {_dataset.ImageSize} needs {BatchElements}", nameof(destination));
        if (labels.Length != BatchSize)
            throw new ArgumentException($"labels has {labels.Length} entries, the batch size is {BatchSize}", nameof(labels));
        if (!indices.IsEmpty && indices.Length != BatchSize)
            throw new ArgumentException($"indices has {indices.Length} entries, the batch size is {BatchSize}", nameof(indices));

        int imageSize = _dataset.ImageSize;
        for (int b = 0; b < BatchSize; b++)
        {
            if (_permutationEpoch != _epoch) Shuffle();
            int index = _permutation[_position];
            bool flip = RandomFlip && FlipDraw(_epoch, _position);
            Span<float> target = destination.Slice(b * imageSize, imageSize);
            if (flip) CopyFlipped(_dataset.Image(index), target, _dataset.Width);
            else _dataset.Image(index).CopyTo(target);
            labels[b] = _dataset.Labels[index];
            if (!indices.IsEmpty) indices[b] = index;

            if (++_position == _dataset.Count)
            {
                _position = 0;
                _epoch++;
            }
        }
    }

    /// <summary>Fisher-Yates from the identity, so an epoch's order depends only on (seed, epoch), never on earlier epochs.</summary>
    private void Shuffle()
    {
        int[] p = _permutation;
        for (int i = 0; i < p.Length; i++) p[i] = i;
        ulong epochKey = CounterRng.Hash(_seed, (ulong)_epoch);
        for (int i = p.Length - 1; i > 0; i--)
        {
            // Multiply-shift maps 64 random bits onto [0, i]; the bias is below 2^-32 for any data set that fits in memory.
            int j = (int)Math.BigMul(CounterRng.Hash(epochKey, (ulong)i), (ulong)(i + 1), out _);
            (p[i], p[j]) = (p[j], p[i]);
        }
        _permutationEpoch = _epoch;
    }

    private bool FlipDraw(long epoch, int position) =>
        (CounterRng.Hash(CounterRng.Hash(_seed ^ FlipSalt, (ulong)epoch), (ulong)position) >> 63) != 0;

    private static void CopyFlipped(ReadOnlySpan<float> source, Span<float> target, int width)
    {
        for (int row = 0; row < source.Length; row += width)
        {
            ReadOnlySpan<float> from = source.Slice(row, width);
            Span<float> to = target.Slice(row, width);
            for (int x = 0; x < width; x++) to[x] = from[width - 1 - x];
        }
    }
}
