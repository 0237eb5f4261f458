using System.Text.Json;
using System.Text.Json.Nodes;
using CatchUp.IO;
using CatchUp.Models;
using CatchUp.Models.Adm;
using CatchUp.Objectives;

namespace CatchUp.Training;

/// <summary>Everything a run needs besides the data: written to the run's config.json, read back on resume.</summary>
public sealed record TrainingOptions
{
    public required IVelocityModelConfig Model { get; init; }
    /// <summary>The noise encoder's network; null = the paper's encoder (<see cref="SongUNetConfig.EncoderFor"/>).
    /// CPU presets use a smaller one.</summary>
    public SongUNetConfig? EncoderModel { get; init; }
    public ObjectiveOptions Objective { get; init; } = new();
    public string Dataset { get; init; } = "fashion-mnist";
    public string? DataDir { get; init; }
    public long Iterations { get; init; } = 2000;
    public int Batch { get; init; } = 64;
    public float LearningRate { get; init; } = 3e-4f;
    public long Warmup { get; init; } = 100;
    public string Optimizer { get; init; } = "adam";
    public float WeightDecay { get; init; }
    public float EmaDecay { get; init; } = 0.999f;
    /// <summary>Further EMA rates tracked beside <see cref="EmaDecay"/> (the reference's <c>ema_rate</c> list after its
    /// first entry); each is saved in the checkpoint as <c>ema_RATE.*</c>. Samples come from <see cref="EmaDecay"/>'s.</summary>
    public float[] ExtraEmaDecays { get; init; } = [];
    public long EmaStart { get; init; }
    public ulong Seed { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Data-parallel ranks of the last start (informational: a run may resume on another world size).</summary>
    public int WorldSize { get; init; } = 1;
    public long CheckpointEvery { get; init; } = 500;
    public long LogEvery { get; init; } = 10;
    public long SampleEvery { get; init; } = 500;
    public int GridSamples { get; init; } = 64;
    public bool HorizontalFlip { get; init; }
    /// <summary>CD/PD: the pre-trained run whose EMA weights are the frozen teacher and the student's starting point.</summary>
    public string? InitFrom { get; init; }

    /// <summary>Quick CPU preset: CUD RK12 on Fashion-MNIST with a small network; about 10 minutes on 2 cores.</summary>
    public static TrainingOptions Quick => new()
    {
        Model = new SongUNetConfig
        {
            ImgResolution = 28, InChannels = 1, OutChannels = 1, ModelChannels = 16, ChannelMult = [1, 2, 2],
            NumBlocks = 1, AttnResolutions = [], Dropout = 0.0, PriorShakedrop = true, Phi = 0.75,
        },
        Objective = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Order = 1 },
        Iterations = 1000, Batch = 64, LearningRate = 1e-3f, Warmup = 100, EmaDecay = 0.995f, EmaStart = 100,
        CheckpointEvery = 250, SampleEvery = 250,
    };

    /// <summary>Paper Table 11, MNIST: batch 256, lr 3e-4 with 8000 warm-up steps, 50k iterations, EMA 0.9999.</summary>
    public static TrainingOptions MnistPaper => new()
    {
        Model = SongUNetConfig.MnistPaper,
        Objective = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Order = 1, Encoder = true },
        Dataset = "mnist", Iterations = 50_000, Batch = 256, LearningRate = 3e-4f, Warmup = 8000,
        EmaDecay = 0.9999f, EmaStart = 8000, CheckpointEvery = 2000, SampleEvery = 2000, LogEvery = 50,
    };

    /// <summary>Paper Table 11, CIFAR-10: batch 128, lr 2e-4 with 5000 warm-up steps, 500k iterations, EMA 0.9999, flips.</summary>
    public static TrainingOptions Cifar10Paper => new()
    {
        Model = SongUNetConfig.Cifar10Paper,
        Objective = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Order = 1, Encoder = true },
        Dataset = "cifar10", Iterations = 500_000, Batch = 128, LearningRate = 2e-4f, Warmup = 5000,
        EmaDecay = 0.9999f, EmaStart = 5000, CheckpointEvery = 5000, SampleEvery = 5000, LogEvery = 100, HorizontalFlip = true,
    };

    /// <summary>
    /// Paper configuration (c), class-conditional ImageNet 64x64 as the reference command line runs it: the 296M ADM
    /// UNetModel (dynamic skip), CUD RK12 without the noise encoder, global batch 1024 (8 ranks x 128), lr 4e-4, no
    /// warm-up, EMA rates 0.999, 0.9999 and 0.9999432189950708 (each saved), 800k iterations. Data: --data DIR.
    /// </summary>
    public static TrainingOptions ImageNet64Paper => new()
    {
        Model = AdmUNetConfig.ImageNet64Paper with { PriorShakedrop = true },
        Objective = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Order = 1 },
        Dataset = "imagenet64", Iterations = 800_000, Batch = 1024, LearningRate = 4e-4f, Warmup = 0,
        EmaDecay = 0.999f, ExtraEmaDecays = [0.9999f, 0.9999432189950708f], EmaStart = 0,
        CheckpointEvery = 10_000, SampleEvery = 10_000, LogEvery = 100,
    };

    /// <summary>The same kind of run at CPU scale: the tiny ADM (<see cref="AdmUNetConfig.ImageNet64Tiny"/>), batch 16,
    /// lr 2e-4 with 100 warm-up steps, EMA 0.995 (+ 0.999 saved), 2000 iterations.</summary>
    public static TrainingOptions ImageNet64Tiny => new()
    {
        Model = AdmUNetConfig.ImageNet64Tiny,
        Objective = new ObjectiveOptions { Kind = ObjectiveKind.Cud, Order = 1 },
        Dataset = "imagenet64", Iterations = 2000, Batch = 16, LearningRate = 2e-4f, Warmup = 100,
        EmaDecay = 0.995f, ExtraEmaDecays = [0.999f], EmaStart = 100, CheckpointEvery = 250, SampleEvery = 500,
        GridSamples = 16,
    };

    public static readonly string[] PresetNames = ["quick", "mnist-paper", "cifar10-paper", "imagenet64-paper", "imagenet64-tiny"];

    public static TrainingOptions Preset(string name) => name switch
    {
        "quick" => Quick,
        "mnist-paper" => MnistPaper,
        "cifar10-paper" => Cifar10Paper,
        "imagenet64-paper" => ImageNet64Paper,
        "imagenet64-tiny" => ImageNet64Tiny,
        _ => throw new ArgumentException($"unknown preset '{name}' ({string.Join(", ", PresetNames)})"),
    };

    /// <summary>The encoder actually built when the objective uses one.</summary>
    public SongUNetConfig EncoderModelOrDefault => EncoderModel ?? SongUNetConfig.EncoderFor(Model);

    /// <summary>The model actually built: the config plus the extra heads the objective needs.</summary>
    public IVelocityModelConfig ModelWithHeads => Model.ExtraHeads >= Objective.ExtraHeads ? Model : Model.WithExtraHeads(Objective.ExtraHeads);

    public void Validate(string source)
    {
        void Fail(string key, string problem) => throw new InvalidDataFileException(source, $"'{key}': {problem}");
        if (Iterations < 1) Fail("iterations", "must be at least 1");
        if (Batch < 1) Fail("batch", "must be at least 1");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) Fail("lr", "must be a positive number");
        if (Warmup < 0) Fail("warmup", "must be >= 0");
        if (Optimizer is not ("adam" or "adamw")) Fail("optimizer", "must be adam or adamw");
        if (!(EmaDecay >= 0 && EmaDecay < 1)) Fail("ema_decay", "must be in [0, 1)");
        if (ExtraEmaDecays.Any(d => !(d >= 0 && d < 1))) Fail("extra_ema_decays", "every rate must be in [0, 1)");
        if (ExtraEmaDecays.Distinct().Count() != ExtraEmaDecays.Length || ExtraEmaDecays.Contains(EmaDecay)) Fail("extra_ema_decays", "the rates must differ from each other and from ema_decay");
        if (Threads < 1) Fail("threads", "must be at least 1");
        if (WorldSize < 1) Fail("world_size", "must be at least 1");
        if (CheckpointEvery < 1 || LogEvery < 1 || SampleEvery < 1) Fail("checkpoint_every/log_every/sample_every", "must be at least 1");
        if (Objective.Kind == ObjectiveKind.Cud && Objective.Order is < 1 or > 3) Fail("rk", "must be 12, 23 or 34");
        if (Objective.CatchUpSteps < 1 || (Objective.Kind == ObjectiveKind.Pd && Objective.CatchUpSteps < 2)) Fail("catchup_steps", "must be at least 1 (2 for pd)");
        if (Objective.NeedsPretrained && InitFrom is null) Fail("init_from", $"{Objective.Describe()} distills a pre-trained run: give it with --from DIR");
        Model.Validate(source);
        if (EncoderModel is { } enc)
        {
            enc.Validate(source);
            if (enc.InChannels != Model.InChannels || enc.OutChannels != 2 * Model.InChannels || enc.ImgResolution != Model.Resolution)
                Fail("encoder", $"the encoder must map {Model.InChannels}x{Model.Resolution}x{Model.Resolution} images to {2 * Model.InChannels} channels (mu, logvar)");
            if (enc.PriorShakedrop) Fail("encoder", "the encoder has no dynamic skip (it is called at t = 1)");
        }
    }

    public string ToJson()
    {
        var o = Objective;
        var training = new JsonObject
        {
            ["objective"] = o.Kind.ToString().ToLowerInvariant(),
            ["rk"] = o.Kind == ObjectiveKind.Cud ? o.Order * 10 + o.Order + 1 : null,
            ["step_size"] = o.StepSize.ToString().ToLowerInvariant(),
            ["teacher"] = o.Teacher.ToString().ToLowerInvariant(),
            ["encoder"] = o.UsesEncoder,
            ["weight_prior"] = o.WeightPrior,
            ["weight_teacher"] = o.WeightTeacher,
            ["weight_gt"] = o.WeightGroundTruth,
            ["dynamic_weight"] = o.DynamicWeight,
            ["discrete_time"] = o.DiscreteTime,
            ["catchup_steps"] = o.CatchUpSteps,
            ["dataset"] = Dataset,
            ["data_dir"] = DataDir,
            ["iterations"] = Iterations,
            ["batch"] = Batch,
            ["lr"] = LearningRate,
            ["warmup"] = Warmup,
            ["optimizer"] = Optimizer,
            ["weight_decay"] = WeightDecay,
            ["ema_decay"] = EmaDecay,
            ["ema_start"] = EmaStart,
            ["extra_ema_decays"] = new JsonArray(ExtraEmaDecays.Select(d => JsonValue.Create(d)).ToArray<JsonNode?>()),
            ["seed"] = Seed,
            ["threads"] = Threads,
            ["world_size"] = WorldSize,
            ["checkpoint_every"] = CheckpointEvery,
            ["log_every"] = LogEvery,
            ["sample_every"] = SampleEvery,
            ["grid_samples"] = GridSamples,
            ["hflip"] = HorizontalFlip,
            ["init_from"] = InitFrom,
        };
        var root = new JsonObject { ["model"] = JsonNode.Parse(Model.ToJson()) };
        if (EncoderModel is not null) root["encoder"] = JsonNode.Parse(EncoderModel.ToJson());
        root["training"] = training;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Reads a run config (or a user's --config file) on top of <paramref name="defaults"/>.</summary>
    public static TrainingOptions Parse(string json, string source, TrainingOptions defaults)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataFileException(source, $"not valid JSON: {e.Message}"); }
        if (root is not JsonObject obj) throw new InvalidDataFileException(source, "the top level must be a JSON object with \"model\" and/or \"training\"");
        // A flat file of reference model keys (img_resolution, model_channels, ...) is a model config on its own.
        if (!obj.ContainsKey("model") && !obj.ContainsKey("training") && !obj.ContainsKey("encoder"))
        {
            var flat = defaults with { Model = VelocityModels.Parse(json, source) };
            flat.Validate(source);
            return flat;
        }
        foreach (var key in obj.Select(kv => kv.Key))
            if (key is not ("model" or "encoder" or "training")) throw new InvalidDataFileException(source, $"unknown top-level key '{key}' (expected \"model\", \"encoder\" and \"training\")");
        var result = defaults;
        if (obj["model"] is JsonNode model) result = result with { Model = VelocityModels.Parse(model.ToJsonString(), source) };
        if (obj["encoder"] is JsonNode encoder) result = result with { EncoderModel = SongUNetConfig.Parse(encoder.ToJsonString(), source, Migration.ConfigRole.NoiseEncoder) };
        if (obj["training"] is JsonObject t) result = ApplyTraining(result, t, source);
        else if (obj["training"] is not null) throw new InvalidDataFileException(source, "\"training\" must be an object");
        result.Validate(source);
        return result;
    }

    public static TrainingOptions Load(string path, TrainingOptions defaults)
    {
        if (!File.Exists(path)) throw new InvalidDataFileException(path, "file not found");
        return Parse(File.ReadAllText(path), path, defaults);
    }

    private static TrainingOptions ApplyTraining(TrainingOptions r, JsonObject t, string source)
    {
        T Get<T>(string key, JsonNode node)
        {
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            { throw new InvalidDataFileException(source, $"'{key}' has the wrong type (expected {typeof(T).Name})"); }
        }
        var o = r.Objective;
        foreach (var (key, node) in t)
        {
            if (node is null)
            {
                if (key == "data_dir") r = r with { DataDir = null };
                else if (key == "init_from") r = r with { InitFrom = null };
                else if (key != "rk") throw new InvalidDataFileException(source, $"'{key}' is null");
                continue;
            }
            switch (key)
            {
                case "objective":
                    o = o with
                    {
                        Kind = Get<string>(key, node) switch
                        {
                            "rf" => ObjectiveKind.Rf, "curvature" => ObjectiveKind.Curvature, "cud" => ObjectiveKind.Cud,
                            "cd" => ObjectiveKind.Cd, "pd" => ObjectiveKind.Pd,
                            var s => throw new InvalidDataFileException(source, $"'objective': unknown objective '{s}' (rf, curvature, cud, cd, pd)"),
                        },
                    };
                    break;
                case "rk": o = o with { Order = ParseRk(Get<int>(key, node), source) }; break;
                case "step_size": o = o with { StepSize = ParseEnum<StepSizeStrategy>(key, Get<string>(key, node), source) }; break;
                case "teacher": o = o with { Teacher = ParseEnum<TeacherKind>(key, Get<string>(key, node), source) }; break;
                case "encoder": o = o with { Encoder = Get<bool>(key, node) }; break;
                case "weight_prior": o = o with { WeightPrior = Get<float>(key, node) }; break;
                case "weight_teacher": o = o with { WeightTeacher = Get<float>(key, node) }; break;
                case "weight_gt": o = o with { WeightGroundTruth = Get<float>(key, node) }; break;
                case "dynamic_weight": o = o with { DynamicWeight = Get<bool>(key, node) }; break;
                case "discrete_time": o = o with { DiscreteTime = Get<bool>(key, node) }; break;
                case "catchup_steps": o = o with { CatchUpSteps = Get<int>(key, node) }; break;
                case "dataset": r = r with { Dataset = Get<string>(key, node) }; break;
                case "data_dir": r = r with { DataDir = Get<string>(key, node) }; break;
                case "iterations": r = r with { Iterations = Get<long>(key, node) }; break;
                case "batch": r = r with { Batch = Get<int>(key, node) }; break;
                case "lr": r = r with { LearningRate = Get<float>(key, node) }; break;
                case "warmup": r = r with { Warmup = Get<long>(key, node) }; break;
                case "optimizer": r = r with { Optimizer = Get<string>(key, node) }; break;
                case "weight_decay": r = r with { WeightDecay = Get<float>(key, node) }; break;
                case "ema_decay": r = r with { EmaDecay = Get<float>(key, node) }; break;
                case "ema_start": r = r with { EmaStart = Get<long>(key, node) }; break;
                case "extra_ema_decays":
                    r = r with { ExtraEmaDecays = node is JsonArray list ? list.Select(v => v is null ? float.NaN : Get<float>(key, v)).ToArray()
                        : throw new InvalidDataFileException(source, $"'{key}' must be a list of numbers") };
                    break;
                case "seed": r = r with { Seed = Get<ulong>(key, node) }; break;
                case "threads": r = r with { Threads = Get<int>(key, node) }; break;
                case "world_size": r = r with { WorldSize = Get<int>(key, node) }; break;
                case "checkpoint_every": r = r with { CheckpointEvery = Get<long>(key, node) }; break;
                case "log_every": r = r with { LogEvery = Get<long>(key, node) }; break;
                case "sample_every": r = r with { SampleEvery = Get<long>(key, node) }; break;
                case "grid_samples": r = r with { GridSamples = Get<int>(key, node) }; break;
                case "hflip": r = r with { HorizontalFlip = Get<bool>(key, node) }; break;
                case "init_from": r = r with { InitFrom = Get<string>(key, node) }; break;
                default: throw new InvalidDataFileException(source, $"unknown training key '{key}'");
            }
        }
        return r with { Objective = o };
    }

    public static int ParseRk(int rk, string source) => rk switch
    {
        12 => 1, 23 => 2, 34 => 3,
        _ => throw new InvalidDataFileException(source, $"'rk': {rk} is not one of 12, 23, 34"),
    };

    private static T ParseEnum<T>(string key, string value, string source) where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: true, out var e) && !int.TryParse(value, out _) ? e
            : throw new InvalidDataFileException(source, $"'{key}': '{value}' is not one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}");
}
