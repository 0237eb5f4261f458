return CatchUp.Cli.CliApp.Run(args);
