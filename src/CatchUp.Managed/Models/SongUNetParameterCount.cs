namespace CatchUp.Models;

/// <summary>
/// The number of trainable parameters a <see cref="SongUNetConfig"/> builds, computed from the layer table of SPEC
/// section 5 without allocating the network (a reference config's <c>num_params</c> is checked against it).
/// </summary>
public static class SongUNetParameterCount
{
    public static long Of(SongUNetConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int c = config.ModelChannels, emb = config.EmbeddingChannels;
        long total = Linear(c * config.ChannelMultNoise, emb) + Linear(emb, emb)
            + (config.LabelDim > 0 ? Linear(config.LabelDim, c * config.ChannelMultNoise) : 0);
        long Block(int cin, int cout, bool resample, bool attention) =>
            2L * cin + Conv(cin, cout, 3) + Linear(emb, cout) + 2L * cout + Conv(cout, cout, 3)
            + (cin != cout || resample ? Conv(cin, cout, 1) : 0)
            + (attention ? 2L * cout + Conv(cout, 3 * cout, 1) + Conv(cout, cout, 1) : 0);

        var skips = new Stack<int>();
        int channels = c;
        for (int level = 0; level < config.Levels; level++)
        {
            int res = config.ResolutionAt(level);
            total += level == 0 ? Conv(config.InChannels, c, 3) : Block(channels, channels, resample: true, attention: false);
            skips.Push(channels);
            for (int idx = 0; idx < config.NumBlocks; idx++)
            {
                int cout = c * config.ChannelMult[level];
                total += Block(channels, cout, false, config.AttnResolutions.Contains(res));
                channels = cout;
                skips.Push(channels);
            }
        }
        for (int level = config.Levels - 1; level >= 0; level--)
        {
            int res = config.ResolutionAt(level);
            total += level == config.Levels - 1
                ? Block(channels, channels, false, attention: true) + Block(channels, channels, false, false)
                : Block(channels, channels, resample: true, attention: false);
            for (int idx = 0; idx <= config.NumBlocks; idx++)
            {
                int cout = c * config.ChannelMult[level];
                total += Block(channels + skips.Pop(), cout, false, idx == config.NumBlocks && config.AttnResolutions.Contains(res));
                channels = cout;
            }
        }
        long head = 2L * channels + Conv(channels, config.OutChannels, 3);
        return total + head * (1 + config.ExtraHeads);
    }

    private static long Linear(int fanIn, int fanOut) => (long)fanIn * fanOut + fanOut;

    private static long Conv(int cin, int cout, int k) => (long)cin * cout * k * k + cout;
}
