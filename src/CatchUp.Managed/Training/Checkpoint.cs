using System.Globalization;
using System.Text.Json;
using CatchUp.Data;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Nn;

namespace CatchUp.Training;

/// <summary>What a checkpoint restores besides tensors.</summary>
/// <param name="ConvPlan">The CPU backend's convolution algorithm per 3x3 shape (<see cref="Backends.Cpu.ConvPlan.Serialize"/>), so
/// that a resumed run computes as before on the same machine; null for other backends.</param>
public sealed record TrainerProgress(long Iteration, long AdamSteps, long NanSkips, BatchSamplerState Sampler, string? ConvPlan = null);

/// <summary>
/// A run's checkpoint: one safetensors file (written atomically: temp file, flush, rename) holding the model, its EMA,
/// the encoder, Adam's moments, and in its metadata the iteration, Adam's step count, the NaN-skip count and the data
/// sampler's position. All other randomness derives from (seed, iteration), so this is the whole training state.
/// </summary>
public static class Checkpoint
{
    public const string FileName = "checkpoint.safetensors";
    private const string Format = "catchup-checkpoint-1";

    public static string PathIn(string runDir) => Path.Combine(runDir, FileName);

    /// <param name="extraEmas">Further EMA copies (the reference's <c>ema_rate</c> list beyond the first), each under its prefix <c>ema_RATE.</c>.</param>
    public static void Save(string runDir, TrainerProgress progress, ParameterSet model, ParameterSet ema, ParameterSet? encoder, AdamOptimizer optimizer,
        IReadOnlyList<(string Prefix, ParameterSet Set)>? extraEmas = null)
    {
        var tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        void AddAll(Dictionary<string, HostTensor> part)
        {
            foreach (var (k, v) in part) tensors[k] = v;
        }
        AddAll(StateDict.Export(model, includeBuffers: false, prefix: "model."));
        AddAll(StateDict.Export(ema, includeBuffers: false, prefix: "ema."));
        if (encoder is not null) AddAll(StateDict.Export(encoder, includeBuffers: false, prefix: "encoder."));
        foreach (var (prefix, set) in extraEmas ?? []) AddAll(StateDict.Export(set, includeBuffers: false, prefix: prefix));
        for (int i = 0; i < optimizer.Parameters.Count; i++)
        {
            string name = OptimizerKey(optimizer, i, model);
            tensors["adam_m." + name] = new HostTensor(optimizer.Parameters[i].Shape.ToArray(), optimizer.FirstMoment(i).ToArray());
            tensors["adam_v." + name] = new HostTensor(optimizer.Parameters[i].Shape.ToArray(), optimizer.SecondMoment(i).ToArray());
        }
        Write(runDir, progress, tensors);
    }

    /// <summary>
    /// A checkpoint of weights held on the host in the reference layout (what <see cref="StateDict.Export"/> yields and
    /// <see cref="StateDict.Load"/> checks), without building a network per copy: each of <paramref name="sets"/> (prefix
    /// <c>model.</c>, <c>ema.</c>, <c>ema_RATE.</c>) holds every parameter of <paramref name="model"/>; no encoder; Adam's
    /// moments are zero. What <see cref="Load"/> reads back as if <see cref="Save"/> had written it.
    /// </summary>
    public static void SaveWeights(string runDir, TrainerProgress progress, ParameterSet model,
        IReadOnlyList<(string Prefix, IReadOnlyDictionary<string, HostTensor> Weights)> sets)
    {
        var tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach (var (prefix, weights) in sets)
            foreach (var p in model.All) tensors[prefix + p.Name] = weights[p.Name];
        foreach (var p in model.All)
            foreach (var moment in (string[])["adam_m.model.", "adam_v.model."])
                tensors[moment + p.Name] = new HostTensor(p.Shape.ToArray(), new float[HostTensor.ElementCount(p.Shape)]);
        Write(runDir, progress, tensors);
    }

    private static void Write(string runDir, TrainerProgress progress, Dictionary<string, HostTensor> tensors)
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = Format,
            ["iteration"] = progress.Iteration.ToString(CultureInfo.InvariantCulture),
            ["adam_steps"] = progress.AdamSteps.ToString(CultureInfo.InvariantCulture),
            ["nan_skips"] = progress.NanSkips.ToString(CultureInfo.InvariantCulture),
            ["sampler"] = JsonSerializer.Serialize(progress.Sampler),
        };
        if (!string.IsNullOrEmpty(progress.ConvPlan)) metadata["conv_plan"] = progress.ConvPlan;
        SafetensorsFile.Write(PathIn(runDir), tensors, metadata);
    }

    /// <summary>Restores everything Save wrote; a file that is corrupt or belongs to another model is an error naming it.</summary>
    public static TrainerProgress Load(string runDir, ParameterSet model, ParameterSet ema, ParameterSet? encoder, AdamOptimizer optimizer,
        IReadOnlyList<(string Prefix, ParameterSet Set)>? extraEmas = null)
    {
        string path = PathIn(runDir);
        SweepAbandonedWrites(runDir);
        if (!File.Exists(path)) throw new InvalidDataFileException(path, "no checkpoint in this run directory (nothing to resume)");
        var file = SafetensorsFile.Read(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new InvalidDataFileException(path, $"not a CatchUp checkpoint (format '{format ?? "missing"}', expected {Format})");
        Dictionary<string, HostTensor> Section(string prefix) => file.Tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);
        string[] prefixes = ["model.", "ema.", "encoder.", "adam_m.", "adam_v.", .. (extraEmas ?? []).Select(e => e.Prefix)];
        foreach (var key in file.Tensors.Keys)
            if (!prefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal)))
                throw new InvalidDataFileException(path, $"unknown tensor '{key}' in checkpoint");
        StateDict.Load(model, Section("model."), path);
        StateDict.Load(ema, Section("ema."), path);
        foreach (var (prefix, set) in extraEmas ?? []) StateDict.Load(set, Section(prefix), path);
        if (encoder is not null) StateDict.Load(encoder, Section("encoder."), path);
        else if (file.Tensors.Keys.Any(k => k.StartsWith("encoder.")))
            throw new InvalidDataFileException(path, "the checkpoint holds an encoder but the run's objective uses none");
        for (int i = 0; i < optimizer.Parameters.Count; i++)
        {
            string name = OptimizerKey(optimizer, i, model);
            var p = optimizer.Parameters[i];
            foreach (var (prefix, tensor) in new[] { ("adam_m.", optimizer.FirstMoment(i)), ("adam_v.", optimizer.SecondMoment(i)) })
            {
                if (!file.Tensors.TryGetValue(prefix + name, out var t)) throw new InvalidDataFileException(path, $"missing tensor '{prefix + name}'");
                if (!t.HasShape(p.Shape)) throw new InvalidDataFileException(path, $"tensor '{prefix + name}' has shape {HostTensor.FormatShape(t.Shape)}, expected {HostTensor.FormatShape(p.Shape)}");
                p.Value.Backend.Upload(t.Data, tensor);
            }
        }
        long Number(string key)
        {
            if (file.Metadata.TryGetValue(key, out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) && v >= 0) return v;
            throw new InvalidDataFileException(path, $"metadata '{key}' is missing or not a non-negative integer");
        }
        BatchSamplerState sampler;
        try { sampler = JsonSerializer.Deserialize<BatchSamplerState>(file.Metadata.GetValueOrDefault("sampler") ?? "null"); }
        catch (JsonException e) { throw new InvalidDataFileException(path, $"metadata 'sampler' is malformed: {e.Message}"); }
        return new TrainerProgress(Number("iteration"), Number("adam_steps"), Number("nan_skips"), sampler, file.Metadata.GetValueOrDefault("conv_plan"));
    }

    /// <summary>The iteration a run's checkpoint was written at (without loading it into a network).</summary>
    public static long ReadIteration(string runDir)
    {
        string path = PathIn(runDir);
        var file = SafetensorsFile.Read(path);
        if (file.Metadata.TryGetValue("iteration", out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) && v >= 0) return v;
        throw new InvalidDataFileException(path, "metadata 'iteration' is missing or not a non-negative integer");
    }

    /// <summary>A run killed while writing leaves "*.tmp-*" files beside its outputs; they are never read, so drop them.</summary>
    public static void SweepAbandonedWrites(string runDir)
    {
        foreach (var file in Directory.EnumerateFiles(runDir, "*.tmp-*"))
        {
            try { File.Delete(file); }
            catch (IOException) { }
        }
    }

    private static string OptimizerKey(AdamOptimizer optimizer, int i, ParameterSet model)
    {
        var p = optimizer.Parameters[i];
        return (model.TryGet(p.Name, out var mp) && ReferenceEquals(mp, p) ? "model." : "encoder.") + p.Name;
    }
}
