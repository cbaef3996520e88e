using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>A request the receiver got: the three Standard Webhooks headers and the body.</summary>
public sealed record ReceivedWebhook(string Path, string? Id, string? Timestamp, string? Signature, string Body);

/// <summary>
/// A real HTTP receiver for webhook tests: Kestrel on a free loopback port. Each request takes the next scripted answer
/// (a status code, or <see cref="Drop"/> to close the connection without answering); when the script is empty it answers 200.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    public const int Drop = -1;

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<int> _script = new();
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();
    public string Url { get; }

    private WebhookReceiver(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public static async Task<WebhookReceiver> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        WebhookReceiver? receiver = null;
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            var body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            receiver!.Received.Enqueue(new ReceivedWebhook(context.Request.Path, context.Request.Headers["webhook-id"], context.Request.Headers["webhook-timestamp"],
                context.Request.Headers["webhook-signature"], body));
            var answer = receiver._script.TryDequeue(out var next) ? next : 200;
            if (answer == Drop)
            {
                context.Abort();
                return;
            }
            context.Response.StatusCode = answer;
            await context.Response.WriteAsync(answer < 300 ? "ok" : $"receiver says {answer}");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver = new WebhookReceiver(app, address.TrimEnd('/') + "/hooks/cassidy");
        return receiver;
    }

    /// <summary>The answers to the next requests, in order.</summary>
    public void Answer(params int[] answers)
    {
        foreach (var a in answers) _script.Enqueue(a);
    }

    public int Port => new Uri(Url).Port;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
