using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Tests.Api;

/// <summary>A 200 means committed: the portal runs as a child process, is killed (-9) right after answering, and
/// every acknowledged event is found after a restart.</summary>
public sealed class DurabilityTests
{
    private const string Key = "durability-key";

    [Fact]
    public async Task Every_acknowledged_event_survives_a_kill_9()
    {
        await using var db = await TestDatabase.CreateAsync();
        var user = await db.AddUserAsync("runner@durable.test", "Runner");
        var org = await db.AddOrganizationAsync("durable", "Durable", "Business");
        await db.AddMembershipAsync(org, user, OrganizationRole.Owner);

        var at = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O");
        var events = Enumerable.Range(0, 500).Select(i => new
        {
            id = $"d{i}", organization = "durable", user = "runner@durable.test", occurredAt = at, feature = "agent_chat",
            model = "gpt-4.1-mini", inputTokens = 1000 + i, outputTokens = 10,
        }).ToArray();

        var port = FreePort();
        using (var portal = await StartPortalAsync(db, port))
        {
            using var client = Client(port);
            var responses = await Task.WhenAll(events.Chunk(100).Select(chunk => client.PostAsJsonAsync("/internal/v1/usage-events", new { events = chunk })));
            portal.Kill(entireProcessTree: true); // no graceful shutdown: the OS takes the process mid-flight
            await portal.WaitForExitAsync();
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            foreach (var r in responses) Assert.Equal(100, (await ApiFixture.JsonAsync(r)).GetProperty("recorded").GetInt32());
        }

        using (var portal = await StartPortalAsync(db, port))
        {
            using var client = Client(port);
            var replay = await client.PostAsJsonAsync("/internal/v1/usage-events", new { events = events.Take(1000).ToArray() });
            var body = await ApiFixture.JsonAsync(replay);
            Assert.Equal((0, 500), (body.GetProperty("recorded").GetInt32(), body.GetProperty("duplicates").GetInt32()));
            portal.Kill(entireProcessTree: true);
            await portal.WaitForExitAsync();
        }
        await using var context = db.CreateContext();
        Assert.Equal(500, await context.UsageEvents.CountAsync());
    }

    private static HttpClient Client(int port)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        return client;
    }

    private static async Task<Process> StartPortalAsync(TestDatabase db, int port)
    {
        // The web project's own build output (same configuration as this test assembly).
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var webBin = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Cassidy.Portal", "bin", configuration, "net10.0"));
        var start = new ProcessStartInfo("dotnet", $"\"{Path.Combine(webBin, "Cassidy.Portal.dll")}\"")
        {
            WorkingDirectory = db.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["ConnectionStrings__Portal"] = db.ConnectionString;
        start.Environment["Ingest__ApiKeys__0"] = Key;
        start.Environment["Demo__Enabled"] = "false";
        start.Environment["Email__PickupDirectory"] = Path.Combine(db.Folder, "mail");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(process.HasExited, "The portal exited during startup.");
            try
            {
                if ((await probe.GetAsync($"http://127.0.0.1:{port}/healthz")).IsSuccessStatusCode) return process;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(100);
        }
        process.Kill(entireProcessTree: true);
        throw new TimeoutException("The portal did not answer /healthz within 60 s.");
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
