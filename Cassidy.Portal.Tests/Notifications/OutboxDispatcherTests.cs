using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using MimeKit;
using netDumbster.smtp;
using static Cassidy.Portal.Tests.Notifications.EmailTestServices;

namespace Cassidy.Portal.Tests.Notifications;

/// <summary>The dispatcher against a real SMTP server (netDumbster) on a real migrated database; only the clock is fake.</summary>
public sealed class OutboxDispatcherTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _clock = Clock();
    private readonly int _port = FreePort();
    private readonly List<SimpleSmtpServer> _servers = [];

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync();

    public async Task DisposeAsync()
    {
        foreach (var server in _servers) server.Dispose();
        await _database.DisposeAsync();
    }

    private SimpleSmtpServer StartServer()
    {
        var server = SimpleSmtpServer.Start(_port);
        _servers.Add(server);
        return server;
    }

    private async Task<OutboxMessage> RowAsync(long id)
    {
        await using var db = _database.CreateContext();
        return await db.OutboxMessages.SingleAsync(m => m.Id == id);
    }

    [Fact]
    public async Task A_committed_message_is_delivered_with_its_recipient_subject_and_both_parts()
    {
        var server = StartServer();
        await using var email = WithSmtp(_database, _clock, _port);
        Assert.IsType<SmtpEmailTransport>(email.Transport);
        var id = await email.EnqueueAsync(_database, Sample());

        Assert.Equal(1, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));

        await WaitForReceivedAsync(server, 1);
        var mail = Parse(server.ReceivedEmail.Single());
        Assert.Equal("ada@customer.test", mail.To.Mailboxes.Single().Address);
        Assert.Equal("no-reply@cassidy.test", mail.From.Mailboxes.Single().Address);
        Assert.Equal("Acme Labs used 80 % of its credits", mail.Subject);
        Assert.Equal($"outbox-{id}@cassidy.portal", mail.MessageId);
        Assert.IsType<MultipartAlternative>(mail.Body);
        Assert.Contains("16,000 of 20,000 credits", mail.TextBody);
        Assert.Contains("/orgs/acme/settings/limits", mail.TextBody);
        Assert.Contains("<b>16,000</b>", mail.HtmlBody);

        var row = await RowAsync(id);
        Assert.Equal(_clock.GetUtcNow().UtcDateTime, row.SentAt);
        Assert.Equal(DateTimeKind.Utc, row.SentAt!.Value.Kind);
        Assert.Equal(1, row.Attempts);
        Assert.Null(row.LastError);
    }

    [Fact]
    public async Task A_sent_message_keeps_its_text_for_the_configured_days_then_only_its_record_stays()
    {
        var server = StartServer();
        await using var email = WithSmtp(_database, _clock, _port); // Email:KeepSentDays defaults to 30
        var id = await email.EnqueueAsync(_database, Sample());
        Assert.Equal(1, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));

        _clock.Advance(TimeSpan.FromDays(29));
        await email.Dispatcher.DispatchDueAsync(CancellationToken.None);
        Assert.Contains("16,000 of 20,000 credits", (await RowAsync(id)).TextBody);

        _clock.Advance(TimeSpan.FromDays(2));
        await email.Dispatcher.DispatchDueAsync(CancellationToken.None);
        var row = await RowAsync(id);
        Assert.Equal(("", ""), (row.TextBody, row.HtmlBody));
        Assert.Equal(("ada@customer.test", "Acme Labs used 80 % of its credits"), (row.To, row.Subject));
        Assert.NotNull(row.SentAt);
        await WaitForReceivedAsync(server, 1);
    }

    [Fact]
    public async Task While_the_server_is_down_the_message_waits_and_after_the_backoff_it_is_delivered_exactly_once()
    {
        await using var email = WithSmtp(_database, _clock, _port);
        var id = await email.EnqueueAsync(_database, Sample());

        Assert.Equal(0, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
        var failed = await RowAsync(id);
        Assert.Null(failed.SentAt);
        Assert.Equal(1, failed.Attempts);
        Assert.False(string.IsNullOrWhiteSpace(failed.LastError));
        Assert.Equal(_clock.GetUtcNow().UtcDateTime + TimeSpan.FromSeconds(5), failed.NextAttemptAt);

        var server = StartServer();
        Assert.Equal(0, await email.Dispatcher.DispatchDueAsync(CancellationToken.None)); // not due yet
        _clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(1, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
        await WaitForReceivedAsync(server, 1);

        _clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(0, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
        Assert.Equal(1, server.ReceivedEmailCount);
        var sent = await RowAsync(id);
        Assert.NotNull(sent.SentAt);
        Assert.Equal(2, sent.Attempts);
    }

    [Fact]
    public async Task Repeated_failures_back_off_longer_each_time_up_to_an_hour()
    {
        await using var email = WithSmtp(_database, _clock, _port);
        var id = await email.EnqueueAsync(_database, Sample());
        TimeSpan[] expected = [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), TimeSpan.FromHours(1)];

        foreach (var wait in expected)
        {
            Assert.Equal(0, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
            var row = await RowAsync(id);
            Assert.Equal(_clock.GetUtcNow().UtcDateTime + wait, row.NextAttemptAt);
            _clock.Advance(wait);
        }
        Assert.Equal(expected.Length, (await RowAsync(id)).Attempts);
    }

    [Fact]
    public async Task After_a_restart_a_sent_message_is_not_sent_again_and_a_pending_one_is_sent_once()
    {
        var server = StartServer();
        long sentBefore, pendingAtRestart;
        await using (var before = WithSmtp(_database, _clock, _port))
        {
            sentBefore = await before.EnqueueAsync(_database, Sample(subject: "Sent before the restart"));
            Assert.Equal(1, await before.Dispatcher.DispatchDueAsync(CancellationToken.None));
            pendingAtRestart = await before.EnqueueAsync(_database, Sample(subject: "Enqueued before the restart"));
        }

        await using var after = WithSmtp(_database, _clock, _port);
        Assert.Equal(1, await after.Dispatcher.DispatchDueAsync(CancellationToken.None));
        _clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(0, await after.Dispatcher.DispatchDueAsync(CancellationToken.None));

        await WaitForReceivedAsync(server, 2);
        Assert.Equal(["Enqueued before the restart", "Sent before the restart"],
            server.ReceivedEmail.Select(m => Parse(m).Subject).Order());
        Assert.Equal([$"outbox-{pendingAtRestart}@cassidy.portal", $"outbox-{sentBefore}@cassidy.portal"],
            server.ReceivedEmail.Select(m => Parse(m).MessageId).OrderDescending());
    }

    [Fact]
    public async Task A_message_that_failed_before_a_restart_is_delivered_once_by_the_new_dispatcher()
    {
        long id;
        await using (var before = WithSmtp(_database, _clock, _port))
        {
            id = await before.EnqueueAsync(_database, Sample());
            Assert.Equal(0, await before.Dispatcher.DispatchDueAsync(CancellationToken.None));
        }

        var server = StartServer();
        await using var after = WithSmtp(_database, _clock, _port);
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, await after.Dispatcher.DispatchDueAsync(CancellationToken.None));
        Assert.Equal(0, await after.Dispatcher.DispatchDueAsync(CancellationToken.None));

        await WaitForReceivedAsync(server, 1);
        Assert.Equal(1, server.ReceivedEmailCount);
        Assert.Equal(2, (await RowAsync(id)).Attempts);
    }

    [Fact]
    public async Task Messages_go_out_oldest_first_in_batches_until_none_are_due()
    {
        var server = StartServer();
        await using var email = WithSmtp(_database, _clock, _port);
        var count = OutboxDispatcher.BatchSize + 3;
        for (var i = 0; i < count; i++)
            await email.EnqueueAsync(_database, Sample(to: $"member{i}@customer.test", subject: $"Message {i:00}"));

        Assert.Equal(OutboxDispatcher.BatchSize, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
        await WaitForReceivedAsync(server, OutboxDispatcher.BatchSize);
        // The server keeps messages in no particular order; the first batch must be the oldest twenty.
        Assert.Equal(Enumerable.Range(0, OutboxDispatcher.BatchSize).Select(i => $"Message {i:00}"),
            server.ReceivedEmail.Select(m => Parse(m).Subject).Order());

        Assert.Equal(3, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
        Assert.Equal(0, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
        await WaitForReceivedAsync(server, count);
        Assert.Equal(count, server.ReceivedEmail.Select(m => Parse(m).Subject).Distinct().Count());
    }

    [Fact]
    public async Task The_running_dispatcher_sends_as_soon_as_it_is_woken()
    {
        var server = StartServer();
        // A poll interval far beyond the test's patience: after its first round the loop only runs when woken.
        await using var email = WithSmtp(_database, TimeProvider.System, _port, pollSeconds: 600);
        await email.Dispatcher.StartAsync(CancellationToken.None);
        try
        {
            await email.EnqueueAsync(_database, Sample(subject: "First"));
            email.Outbox.Wake();
            await WaitForReceivedAsync(server, 1);
            await email.EnqueueAsync(_database, Sample(subject: "Second"));
            email.Outbox.Wake();
            await WaitForReceivedAsync(server, 2);
        }
        finally
        {
            await email.Dispatcher.StopAsync(CancellationToken.None);
        }
        Assert.Equal(2, server.ReceivedEmailCount);
    }

    [Fact]
    public async Task The_running_dispatcher_finds_new_messages_by_polling()
    {
        var server = StartServer();
        await using var email = WithSmtp(_database, TimeProvider.System, _port, pollSeconds: 0.05);
        await email.Dispatcher.StartAsync(CancellationToken.None);
        try
        {
            await email.EnqueueAsync(_database, Sample());
            await WaitForReceivedAsync(server, 1);
        }
        finally
        {
            await email.Dispatcher.StopAsync(CancellationToken.None);
        }
        Assert.Equal(1, server.ReceivedEmailCount);
    }
}
