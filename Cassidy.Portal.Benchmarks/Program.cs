using Cassidy.Portal.Benchmarks;

// dotnet run -c Release --project Cassidy.Portal.Benchmarks -- --benchmark 5 [--channels 2] [--no-mixed]
//                                                             --benchmark-usage 30
//                                                             --benchmark-ledger-check 2   (millions of calls)
//                                                             --benchmark-pages 1 [--runs 7] (millions of calls)
//                                                             --benchmark-time-zone 2      (millions of calls)
//                                                             --benchmark-live-tabs 200    (open Usage tabs)
//                                                             --benchmark-mixed            (--benchmark's mixed load alone)
if (args.Contains("--benchmark-usage")) await UsageBenchmark.RunAsync(args);
else if (args.Contains("--benchmark-ledger-check")) await LedgerCheckBenchmark.RunAsync(args);
else if (args.Contains("--benchmark-pages")) await PageBenchmark.RunAsync(args);
else if (args.Contains("--benchmark-time-zone")) await TimeZoneBenchmark.RunAsync(args);
else if (args.Contains("--benchmark-live-tabs")) await LiveTabsBenchmark.RunAsync(args);
else if (args.Contains("--benchmark-mixed")) await MixedLoadBenchmark.RunAsync(); // the last part of --benchmark alone
else if (args.Contains("--benchmark")) await IngestBenchmark.RunAsync(args);
else
{
    Console.Error.WriteLine("Usage: --benchmark [SECONDS] [--channels N] [--no-mixed] | --benchmark-usage [RUNS] | --benchmark-ledger-check [MILLIONS] | --benchmark-pages [MILLIONS] [--runs N] | --benchmark-time-zone [MILLIONS] | --benchmark-live-tabs [TABS] | --benchmark-mixed");
    Environment.ExitCode = 2;
}
