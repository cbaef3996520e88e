using System.Net;
using System.Net.Sockets;
using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MimeKit;
using netDumbster.smtp;

namespace Cassidy.Portal.Tests.Notifications;

/// <summary>
/// The email services as the app registers them (<see cref="EmailSetup.AddEmail"/>) on a test database, with
/// the given settings and clock. Disposing it is a "process exit": a new instance on the same database is a restart.
/// </summary>
public sealed class EmailTestServices : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    public EmailTestServices(TestDatabase database, TimeProvider time, IDictionary<string, string?> settings)
    {
        _provider = TestServices.Build(database, time, settings);
    }

    public static EmailTestServices WithSmtp(TestDatabase database, TimeProvider time, int port, double pollSeconds = 60) =>
        new(database, time, new Dictionary<string, string?>
        {
            ["Email:From"] = "Cassidy <no-reply@cassidy.test>",
            ["Email:Smtp:Host"] = "127.0.0.1",
            ["Email:Smtp:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Email:PollSeconds"] = pollSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

    public EmailOutbox Outbox => _provider.GetRequiredService<EmailOutbox>();
    public OutboxDispatcher Dispatcher => _provider.GetRequiredService<OutboxDispatcher>();
    public IEmailTransport Transport => _provider.GetRequiredService<IEmailTransport>();

    /// <summary>Enqueues and commits, as a caller would.</summary>
    public async Task<long> EnqueueAsync(TestDatabase database, EmailMessage message)
    {
        await using var db = database.CreateContext();
        var row = Outbox.Enqueue(db, message);
        await db.SaveChangesAsync();
        return row.Id;
    }

    public async ValueTask DisposeAsync() => await _provider.DisposeAsync();

    public static FakeTimeProvider Clock() => new(new DateTimeOffset(2026, 3, 1, 9, 0, 0, TimeSpan.Zero));

    /// <summary>A loopback port nobody listens on (yet).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static MimeMessage Parse(SmtpMessage received) =>
        MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(received.Data)));

    /// <summary>Waits until the server holds <paramref name="count"/> messages (it stores them on its own threads).</summary>
    public static async Task WaitForReceivedAsync(SimpleSmtpServer server, int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (server.ReceivedEmailCount < count)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"The SMTP server received {server.ReceivedEmailCount} of {count} messages.");
            await Task.Delay(20);
        }
    }

    public static EmailMessage Sample(string to = "ada@customer.test", string subject = "Acme Labs used 80 % of its credits", string? key = null) =>
        new(to, subject,
            TextBody: "Acme Labs has used 16,000 of 20,000 credits this period.\nSettings: http://localhost:5000/orgs/acme/settings/limits",
            HtmlBody: "<p>Acme Labs has used <b>16,000</b> of 20,000 credits this period.</p><p><a href=\"http://localhost:5000/orgs/acme/settings/limits\">Settings</a></p>",
            CorrelationKey: key,
            Kind: "alert");
}
