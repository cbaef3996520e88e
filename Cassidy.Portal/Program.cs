using Cassidy.Portal;
using Cassidy.Portal.Benchmark;
using Cassidy.Portal.Simulation;

if (args.Contains("--simulate"))
{
    Environment.ExitCode = LedgerSimulation.RunCommand(args);
    return;
}

if (args.Contains("--benchmark-usage"))
{
    await UsageBenchmark.RunAsync(args);
    return;
}

if (args.Contains("--benchmark"))
{
    await IngestBenchmark.RunAsync(args);
    return;
}

var builder = WebApplication.CreateBuilder(args);
builder.AddPortal();

var app = builder.Build();
app.MapPortal();
await app.PrepareDatabaseAsync();
app.Run();

public partial class Program;
