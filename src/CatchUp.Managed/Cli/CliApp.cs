namespace CatchUp.Cli;

public static class CliApp
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("catchup: commands are being built");
        return 2;
    }
}
