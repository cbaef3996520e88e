using netDumbster.smtp;
using static Cassidy.Portal.Tests.Notifications.EmailTestServices;

using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Notifications;

/// <summary>Alert emails from the evaluator to a real SMTP server (netDumbster): content, outage, restart.</summary>
public sealed class AlertEmailTests : IAsyncLifetime
{
    private AlertHarness _h = null!;
    private readonly int _port = FreePort();
    private readonly List<SimpleSmtpServer> _servers = [];

    public async Task InitializeAsync() => _h = await AlertHarness.CreateAsync();

    public async Task DisposeAsync()
    {
        foreach (var server in _servers) server.Dispose();
        await _h.DisposeAsync();
    }

    private SimpleSmtpServer StartServer()
    {
        var server = SimpleSmtpServer.Start(_port);
        _servers.Add(server);
        return server;
    }

    [Fact]
    public async Task An_alert_email_says_which_organization_which_threshold_the_figures_and_links_to_the_settings()
    {
        var server = StartServer();
        await _h.SpendAsync("e", 16_000);
        Assert.Equal(2, await _h.Evaluator.EvaluateAsync(_h.OrgId)); // 50 % and 80 %: one e-mail naming 80 %

        await using var email = WithSmtp(_h.Ledger.Db, _h.Ledger.Clock, _port);
        Assert.Equal(1, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
        await WaitForReceivedAsync(server, 1);

        var mail = server.ReceivedEmail.Select(Parse).Single(m => m.Subject?.Contains("80%", StringComparison.Ordinal) == true);
        Assert.Equal("alice@test.test", mail.To.Mailboxes.Single().Address);
        Assert.Equal("Org has used 80% of its monthly credits", mail.Subject);
        Assert.Contains("Org has used 16,000 of its 20,000 monthly credits this billing period (80%)", mail.TextBody);
        Assert.Contains("http://portal.test/orgs/org/settings/usage", mail.TextBody);
        Assert.Contains("href=\"http://portal.test/orgs/org/settings/usage\"", mail.HtmlBody);

        var history = await _h.Rules.HistoryAsync(_h.OrgId, 0, 10);
        Assert.Equal(["Delivered", "Told with the higher threshold"], history.Rows.OrderByDescending(r => r.Threshold).Select(r => r.Delivery));
    }

    [Fact]
    public async Task While_the_server_is_down_alerts_wait_and_are_delivered_exactly_once_also_across_a_restart()
    {
        await _h.SpendAsync("e", 10_000);
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        await using (var first = WithSmtp(_h.Ledger.Db, _h.Ledger.Clock, _port))
            Assert.Equal(0, await first.Dispatcher.DispatchDueAsync(CancellationToken.None)); // nobody listens
        var pending = Assert.Single((await _h.Rules.HistoryAsync(_h.OrgId, 0, 10)).Rows);
        Assert.Equal("Pending (0 of 1 emails sent)", pending.Delivery);

        // The server comes up; a new dispatcher (a restarted process) sends after the backoff, once.
        var server = StartServer();
        _h.Ledger.Clock.Advance(TimeSpan.FromSeconds(5));
        await using (var restarted = WithSmtp(_h.Ledger.Db, _h.Ledger.Clock, _port))
        {
            Assert.Equal(1, await restarted.Dispatcher.DispatchDueAsync(CancellationToken.None));
            Assert.Equal(0, await restarted.Dispatcher.DispatchDueAsync(CancellationToken.None));
        }
        await using (var again = WithSmtp(_h.Ledger.Db, _h.Ledger.Clock, _port))
        {
            _h.Ledger.Clock.Advance(TimeSpan.FromHours(2));
            Assert.Equal(0, await again.Dispatcher.DispatchDueAsync(CancellationToken.None));
        }
        // One send in all (the dispatches after it found nothing due), so one message at the server.
        await WaitForReceivedAsync(server, 1);
        Assert.Equal(1, server.ReceivedEmailCount);
        Assert.Equal("Org has used 50% of its monthly credits", Parse(server.ReceivedEmail[0]).Subject);
        Assert.Equal("Delivered", Assert.Single((await _h.Rules.HistoryAsync(_h.OrgId, 0, 10)).Rows).Delivery);
        // And the evaluator does not fire it again.
        Assert.Equal(0, await _h.Evaluator.EvaluateAsync(_h.OrgId));
    }
}
