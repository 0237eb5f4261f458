using System.Diagnostics;
using System.Numerics.Tensors;
using CatchUp.Backends;
using CatchUp.Backends.Cuda;
using CatchUp.Distributed.Nccl;
using CatchUp.Nn;

namespace CatchUp.Distributed;

/// <summary>
/// Averages the gradients of a parameter list over the ranks: the gradients are packed into flat buckets of at
/// most <c>bucketBytes</c> (a parameter larger than that gets a bucket of its own), each bucket is summed by one
/// in-place Allreduce, then scaled by 1/size and unpacked. The buckets are allocated once and reused every step.
/// On a CUDA backend with an NCCL communicator the gradients never leave the GPU: one NCCL group averages them in
/// place on the compute stream (ncclAvg).
/// </summary>
public sealed class GradientAllreducer
{
    private readonly ICommunicator _comm;
    private readonly IBackend _b;
    private readonly Parameter[] _parameters;
    private readonly (int First, int End, int Floats)[] _buckets;
    private readonly float[] _buffer;
    private readonly long _bucketBytes;

    public GradientAllreducer(ICommunicator comm, IBackend backend, IReadOnlyList<Parameter> parameters, long bucketBytes = DefaultBucketBytes)
    {
        _comm = comm;
        _b = backend;
        _bucketBytes = bucketBytes;
        _parameters = parameters.ToArray();
        long bucketFloats = Math.Max(1, bucketBytes / sizeof(float));
        var buckets = new List<(int, int, int)>();
        int first = 0, floats = 0;
        for (int i = 0; i < _parameters.Length; i++)
        {
            int length = _parameters[i].Grad.Length;
            if (i > first && floats + (long)length > bucketFloats)
            {
                buckets.Add((first, i, floats));
                first = i;
                floats = 0;
            }
            floats += length;
        }
        if (_parameters.Length > 0) buckets.Add((first, _parameters.Length, floats));
        _buckets = buckets.ToArray();
        _buffer = GC.AllocateUninitializedArray<float>(_buckets.Length == 0 ? 0 : _buckets.Max(b => b.Floats), pinned: true);
        if (comm is IDeviceAllreduce device && backend is CudaBackend cuda)
        {
            _device = device;
            _stream = cuda.Stream;
            _deviceBuffers = _parameters.Select(p => (p.Grad.Handle, (long)p.Grad.Length)).ToArray();
        }
    }

    private readonly IDeviceAllreduce? _device;
    private readonly nint _stream;
    private readonly (nint, long)[] _deviceBuffers = [];

    /// <summary>"nccl (on the GPU)" or "N bucket(s) through host memory".</summary>
    public string Describe() => _device is not null ? "NCCL on the GPU, one group" : $"{BucketCount} bucket(s) of at most {_bucketBytes >> 20} MiB";

    /// <summary>PyTorch DDP's default bucket size.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    public int BucketCount => _buckets.Length;
    public long GradientFloats => _parameters.Sum(p => (long)p.Grad.Length);
    /// <summary>Seconds spent in Allreduce calls since construction (packing excluded).</summary>
    public double ReduceSeconds { get; private set; }
    /// <summary>Seconds spent packing and unpacking buckets since construction.</summary>
    public double CopySeconds { get; private set; }

    /// <summary>Replaces every gradient by its mean over the ranks.</summary>
    public void Average()
    {
        if (_comm.Size == 1) return;
        if (_device is not null)
        {
            long t = Stopwatch.GetTimestamp();
            _device.AllreduceAverage(_deviceBuffers, _stream);
            ReduceSeconds += Stopwatch.GetElapsedTime(t).TotalSeconds;
            return;
        }
        float scale = 1f / _comm.Size;
        foreach (var (first, end, floats) in _buckets)
        {
            long t0 = Stopwatch.GetTimestamp();
            var bucket = _buffer.AsSpan(0, floats);
            int offset = 0;
            for (int i = first; i < end; i++)
            {
                var grad = _parameters[i].Grad;
                _b.Download(grad, bucket.Slice(offset, grad.Length));
                offset += grad.Length;
            }
            long t1 = Stopwatch.GetTimestamp();
            _comm.AllreduceSum(bucket);
            long t2 = Stopwatch.GetTimestamp();
            TensorPrimitives.Multiply(bucket, scale, bucket);
            offset = 0;
            for (int i = first; i < end; i++)
            {
                var grad = _parameters[i].Grad;
                _b.Upload(bucket.Slice(offset, grad.Length), grad);
                offset += grad.Length;
            }
            ReduceSeconds += Stopwatch.GetElapsedTime(t1, t2).TotalSeconds;
            CopySeconds += Stopwatch.GetElapsedTime(t0, t1).TotalSeconds + Stopwatch.GetElapsedTime(t2).TotalSeconds;
        }
    }
}
