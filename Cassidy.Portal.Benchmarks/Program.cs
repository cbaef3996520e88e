using Cassidy.Portal.Benchmarks;

// dotnet run -c Release --project Cassidy.Portal.Benchmarks -- --benchmark 5 [--channels 2]
//                                                             --benchmark-usage 30
if (args.Contains("--benchmark-usage")) await UsageBenchmark.RunAsync(args);
else if (args.Contains("--benchmark")) await IngestBenchmark.RunAsync(args);
else
{
    Console.Error.WriteLine("Usage: --benchmark [SECONDS] [--channels N] | --benchmark-usage [SECONDS]");
    Environment.ExitCode = 2;
}
