using CatchUp.IO;

namespace CatchUp.Migration;

/// <summary>A state dict as the reference saved it: tensor names in PyTorch's registration order.</summary>
internal sealed record ReferenceStateDict(IReadOnlyList<string> Keys, IReadOnlyDictionary<string, HostTensor> Tensors)
{
    /// <summary>The parameters in the order <c>module.parameters()</c> yields them: the state dict without its buffers.</summary>
    public IEnumerable<string> ParameterKeys => Keys.Where(k => !k.EndsWith(".resample_filter", StringComparison.Ordinal));

    /// <summary>How many tensors were stored in another floating-point type (float16, bfloat16, float64) and converted to float32.</summary>
    public int Converted { get; init; }

    public Dictionary<string, HostTensor> WithPrefix(string prefix) =>
        Tensors.ToDictionary(kv => prefix + kv.Key, kv => kv.Value, StringComparer.Ordinal);
}

/// <summary>Adam's state from a reference <c>training_state_*.pth</c>: per optimizer index, the two moments and the step.</summary>
internal sealed record ReferenceAdamState(IReadOnlyList<long> ParameterOrder, IReadOnlyDictionary<long, (HostTensor M, HostTensor V)> Moments,
    long Steps, double LearningRate, double WeightDecay);

/// <summary>What a reference flow checkpoint holds: <c>flow_model_*.pth</c> (one state dict) or <c>training_state_*.pth</c>.</summary>
internal sealed record ReferenceFlow(ReferenceStateDict Model, ReferenceStateDict? Ema, IReadOnlyList<ReferenceStateDict> Generators,
    ReferenceStateDict? Encoder, ReferenceAdamState? Adam, long Iteration);

/// <summary>Reads the reference's checkpoint layouts (train_cud_reverse_img_ddp.py's torch.save calls) from a <see cref="PthFile"/>.</summary>
internal static class ReferenceCheckpoint
{
    public static ReferenceFlow ReadFlow(string path)
    {
        var file = PthFile.Read(path);
        if (file.Root is PyDict root && root.ContainsKey("model_state_dict"))
            return ReadTrainingState(file, root);
        return new ReferenceFlow(StateDict(file, file.Root, "the flow model"), null, [], null, null, 0);
    }

    /// <summary>A file holding one state dict, <c>torch.save(model.state_dict())</c> (the ADM reference's <c>model*.pt</c>,
    /// <c>ema_*.pt</c>); <paramref name="what"/> names it in errors.</summary>
    public static ReferenceStateDict ReadStateDict(string path, string what)
    {
        var file = PthFile.Read(path);
        return StateDict(file, file.Root, what);
    }

    /// <summary><c>generator_list_*.pth</c>: a list of MetaGenerator state dicts (block.0 = GroupNorm, block.2 = conv).</summary>
    public static IReadOnlyList<ReferenceStateDict> ReadGenerators(string path)
    {
        var file = PthFile.Read(path);
        return GeneratorList(file, file.Root, "the generator list");
    }

    /// <summary><c>forward_model_*.pth</c>: the UNetEncoder's state dict, whose keys start with <c>encoder.</c>.</summary>
    public static ReferenceStateDict ReadEncoder(string path)
    {
        var file = PthFile.Read(path);
        return EncoderStateDict(file, file.Root, "the encoder");
    }

    /// <summary>Drops the prefixes of DistributedDataParallel (<c>module.</c>) and torch.compile (<c>_orig_mod.</c>), as the reference's loader does.</summary>
    public static string StripWrapperPrefixes(string key)
    {
        while (true)
        {
            if (key.StartsWith("module.", StringComparison.Ordinal)) key = key["module.".Length..];
            else if (key.StartsWith("_orig_mod.", StringComparison.Ordinal)) key = key["_orig_mod.".Length..];
            else return key;
        }
    }

    private static ReferenceFlow ReadTrainingState(PthFile file, PyDict root)
    {
        if (root["model_state_dict"] is not PyList { Items.Count: >= 1 } models)
            throw Fail(file, "'model_state_dict' is not a list of state dicts (raw model, EMA model)");
        var model = StateDict(file, models.Items[0], "model_state_dict[0]");
        var ema = models.Items.Count > 1 ? StateDict(file, models.Items[1], "model_state_dict[1]") : null;
        var generators = root["generator_list"] is { } g ? GeneratorList(file, g, "'generator_list'") : [];
        var encoder = root["forward_model_state_dict"] is { } e ? EncoderStateDict(file, e, "'forward_model_state_dict'") : null;
        long iteration = root["iter"] switch
        {
            null => 0,
            long i when i >= 0 => i,
            var other => throw Fail(file, $"'iter' is {other}, not a non-negative integer"),
        };
        var adam = root["optimizer_state_dict"] is PyDict optimizer ? AdamState(file, optimizer) : null;
        return new ReferenceFlow(model, ema, generators, encoder, adam, iteration);
    }

    private static IReadOnlyList<ReferenceStateDict> GeneratorList(PthFile file, object? value, string what)
    {
        if (value is not PyList list) throw Fail(file, $"{what} is not a list of MetaGenerator state dicts");
        return list.Items.Select((item, i) => StateDict(file, item, $"{what}[{i}]")).ToList();
    }

    private static ReferenceStateDict EncoderStateDict(PthFile file, object? value, string what)
    {
        var sd = StateDict(file, value, what);
        const string prefix = "encoder.";
        if (sd.Keys.FirstOrDefault(k => !k.StartsWith(prefix, StringComparison.Ordinal)) is { } stray)
            throw Fail(file, $"{what}: key '{stray}' is not under 'encoder.' (the reference's UNetEncoder)");
        var keys = sd.Keys.Select(k => k[prefix.Length..]).ToList();
        return new ReferenceStateDict(keys, sd.Tensors.ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal));
    }

    /// <summary>A dict of tensor names to tensors, wrapper prefixes removed.</summary>
    private static ReferenceStateDict StateDict(PthFile file, object? value, string what)
    {
        if (value is not PyDict dict || dict.Items.Count == 0)
            throw Fail(file, $"{what} is not a state dict (a dict of parameter names to tensors)");
        var keys = new List<string>(dict.Items.Count);
        var tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        int converted = 0;
        foreach (var (k, v) in dict.Items)
        {
            if (k is not string name || v is not TorchTensor tensor)
                throw Fail(file, $"{what} is not a state dict: entry '{k}' is not a named tensor");
            if (tensor.Storage.DType != TorchDType.Float32) converted++;
            string key = StripWrapperPrefixes(name);
            if (!tensors.TryAdd(key, file.ToHost(tensor, name)))
                throw Fail(file, $"{what}: '{key}' appears twice once the module./_orig_mod. prefixes are removed");
            keys.Add(key);
        }
        return new ReferenceStateDict(keys, tensors) { Converted = converted };
    }

    private static ReferenceAdamState? AdamState(PthFile file, PyDict optimizer)
    {
        if (optimizer["state"] is not PyDict state || optimizer["param_groups"] is not PyList { Items.Count: >= 1 } groups)
            throw Fail(file, "'optimizer_state_dict' lacks 'state' or 'param_groups'");
        var order = new List<long>();
        double lr = 0, weightDecay = 0;
        foreach (var group in groups.Items)
        {
            if (group is not PyDict g || g["params"] is not PyList ps) throw Fail(file, "'optimizer_state_dict': a param group without 'params'");
            order.AddRange(ps.Items.Select(p => p as long? ?? throw Fail(file, "'optimizer_state_dict': a parameter index is not an integer")));
            lr = Number(g["lr"]);
            weightDecay = Number(g["weight_decay"]);
        }
        var moments = new Dictionary<long, (HostTensor, HostTensor)>();
        long steps = 0;
        foreach (var (key, value) in state.Items)
        {
            if (key is not long index || value is not PyDict s || s["exp_avg"] is not TorchTensor m || s["exp_avg_sq"] is not TorchTensor v)
                throw Fail(file, $"'optimizer_state_dict': state entry {key} is not Adam's (exp_avg, exp_avg_sq, step)");
            moments[index] = (file.ToHost(m, $"state[{index}].exp_avg"), file.ToHost(v, $"state[{index}].exp_avg_sq"));
            steps = s["step"] switch
            {
                TorchTensor t when t.ElementCount == 1 => (long)file.ToHost(t, $"state[{index}].step").Data[0],
                long l => l,
                double d => (long)d,
                _ => throw Fail(file, $"'optimizer_state_dict': state entry {index} has no step count"),
            };
        }
        return new ReferenceAdamState(order, moments, steps, lr, weightDecay);
    }

    private static double Number(object? value) => value switch { long l => l, double d => d, _ => 0 };

    private static InvalidDataFileException Fail(PthFile file, string problem) => new(file.Path, problem);
}
