using System.CommandLine;
using CatchUp.Migration;

namespace CatchUp.Cli;

/// <summary><c>catchup export</c>: a run's weights for the PyTorch reference (.pth) or as reference-named safetensors.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format") { Description = "pth (the reference's torch.save layout) | safetensors", DefaultValueFactory = _ => "pth" };
        var run = new Option<string>("--run") { Description = "The run directory", Required = true };
        var outDir = new Option<string>("--out") { Description = "Output directory", Required = true };
        var noEma = new Option<bool>("--no-ema") { Description = "Export the raw weights (flow_model.pth, ...) instead of the EMA weights (ADM: model<step>.pt only)" };
        var command = new Command("export", "Write a run's model in the PyTorch reference's layout (flow_model_ema.pth, generator_list_ema.pth, forward_model_ema.pth; ADM: model<step>.pt, ema_<rate>_<step>.pt)")
        {
            format, run, outDir, noEma,
        };
        command.SetAction(r => CliApp.Guard(() =>
        {
            foreach (var file in RunExporter.Export(r.GetValue(run)!, r.GetValue(outDir)!, r.GetValue(format)!, !r.GetValue(noEma)))
                Console.WriteLine($"wrote {file}");
            return 0;
        }));
        return command;
    }
}
