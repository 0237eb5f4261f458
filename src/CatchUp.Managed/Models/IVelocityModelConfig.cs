using CatchUp.Backends;

namespace CatchUp.Models;

/// <summary>The hyper-parameters of a velocity network, whichever architecture (<see cref="SongUNetConfig"/>,
/// <see cref="Adm.AdmUNetConfig"/>): what the trainer, samplers and CLI need to know without naming it.</summary>
public interface IVelocityModelConfig
{
    int InChannels { get; }
    int OutChannels { get; }
    /// <summary>Image height and width.</summary>
    int Resolution { get; }
    /// <summary>Classes of a class-conditional model; 0 for an unconditional one.</summary>
    int ClassCount { get; }
    /// <summary>Extra prediction heads (Runge-Kutta orders 2 and 3).</summary>
    int ExtraHeads { get; }
    /// <summary>The key prefix of the extra heads' parameters: <c>heads.</c> (SongUNet), <c>generator_list.</c> (ADM).</summary>
    string HeadKeyPrefix { get; }

    IVelocityModelConfig WithExtraHeads(int heads);
    IVelocityNetwork Build(IBackend backend);
    /// <summary>One line for start-up tables: the architecture and its main sizes.</summary>
    string Describe();
    string ToJson();
    void Validate(string sourceName);
}
