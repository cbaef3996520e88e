using Cassidy.Portal;

if (await PortalCommands.RunAsync(args) is { } exitCode)
{
    Environment.ExitCode = exitCode;
    return;
}

var builder = WebApplication.CreateBuilder(args);
builder.AddPortal();

var app = builder.Build();
app.MapPortal();
await app.PrepareDatabaseAsync();
app.Run();

public partial class Program;
