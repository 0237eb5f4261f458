using System.Runtime.InteropServices;

namespace CatchUp.Backends.Cpu;

/// <summary>A unit of parallel work. Implemented by small unmanaged structs holding pointers and sizes, so that
/// dispatching a parallel loop allocates nothing.</summary>
public interface IParallelJob
{
    /// <summary>Runs item <paramref name="index"/> on worker <paramref name="worker"/> (0 = calling thread).</summary>
    void Execute(int index, int worker);
}

/// <summary>
/// A fixed set of worker threads running index-space loops (the caller participates as worker 0). Items are handed out
/// dynamically through an atomic counter. Each worker also owns aligned scratch slots that kernels use as workspace.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    private const int ScratchSlots = 4;
    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private readonly float*[,] _scratch;
    private readonly long[,] _scratchFloats;
    private delegate*<void*, int, int, void> _fn;
    private void* _job;
    private int _count;
    private int _next;
    private int _busyWorkers;
    private volatile int _generation;
    private volatile bool _disposed;
    [ThreadStatic] private static bool t_insideJob;

    public WorkerPool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), "at least one thread is needed");
        Threads = threads;
        _scratch = new float*[threads, ScratchSlots];
        _scratchFloats = new long[threads, ScratchSlots];
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int worker = i + 1;
            _threads[i] = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"catchup-cpu-{worker}" };
            _threads[i].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Runs job.Execute(i, worker) for i in [0, count). Nested calls run inline.</summary>
    public void For<TJob>(int count, ref TJob job) where TJob : unmanaged, IParallelJob
    {
        if (count <= 0) return;
        if (Threads == 1 || count == 1 || t_insideJob)
        {
            for (int i = 0; i < count; i++) job.Execute(i, 0);
            return;
        }
        fixed (TJob* p = &job) Run(count, &Trampoline<TJob>, p);
    }

    /// <summary>Aligned per-worker workspace of at least <paramref name="floats"/> elements (contents undefined).
    /// Slot s of worker w is only ever used by that worker, so kernels need no locking.</summary>
    public float* Scratch(int worker, int slot, long floats)
    {
        if (_scratchFloats[worker, slot] < floats)
        {
            if (_scratch[worker, slot] != null) NativeMemory.AlignedFree(_scratch[worker, slot]);
            long grown = Math.Max(floats, _scratchFloats[worker, slot] * 3 / 2);
            _scratch[worker, slot] = (float*)NativeMemory.AlignedAlloc((nuint)(grown * sizeof(float)), 64);
            _scratchFloats[worker, slot] = grown;
        }
        return _scratch[worker, slot];
    }

    private static void Trampoline<TJob>(void* job, int index, int worker) where TJob : unmanaged, IParallelJob
        => ((TJob*)job)->Execute(index, worker);

    private void Run(int count, delegate*<void*, int, int, void> fn, void* job)
    {
        _fn = fn;
        _job = job;
        _count = count;
        _next = 0;
        Volatile.Write(ref _busyWorkers, _threads.Length);
        lock (_gate)
        {
            _generation++;
            Monitor.PulseAll(_gate);
        }
        Drain(0);
        var spin = new SpinWait();
        while (Volatile.Read(ref _busyWorkers) != 0) spin.SpinOnce(sleep1Threshold: -1);
    }

    private void Drain(int worker)
    {
        t_insideJob = true;
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < _count) _fn(_job, i, worker);
        }
        finally { t_insideJob = false; }
    }

    private void WorkerLoop(int worker)
    {
        int seen = 0;
        while (true)
        {
            // Spin briefly: training issues thousands of short loops per second, and a futex wake costs more than they do.
            var spin = new SpinWait();
            for (int k = 0; k < 2000 && _generation == seen && !_disposed; k++)
            {
                if (k < 200) Thread.SpinWait(20); else spin.SpinOnce(sleep1Threshold: -1);
            }
            if (_generation == seen && !_disposed)
            {
                lock (_gate)
                {
                    while (_generation == seen && !_disposed) Monitor.Wait(_gate);
                }
            }
            if (_disposed) return;
            seen = _generation;
            try { Drain(worker); }
            finally { Interlocked.Decrement(ref _busyWorkers); }
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate) Monitor.PulseAll(_gate);
        foreach (var t in _threads) t.Join();
        for (int w = 0; w < Threads; w++)
            for (int s = 0; s < ScratchSlots; s++)
                if (_scratch[w, s] != null) NativeMemory.AlignedFree(_scratch[w, s]);
    }
}
