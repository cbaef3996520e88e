using System.Text.Json;
using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Webhooks;

/// <summary>
/// Alert channels end to end on the real engine, database and HTTP: a Kestrel receiver on loopback, the dispatcher's real
/// HttpClient, the fake clock for retries and the 24-hour window.
/// </summary>
public sealed class WebhookDeliveryTests : IAsyncLifetime
{
    private AlertHarness _h = null!;
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync()
    {
        _h = await AlertHarness.CreateAsync();
        _receiver = await WebhookReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _h.DisposeAsync();
    }

    private async Task<(int Id, string Secret)> AddWebhookAsync(string? url = null, params string[] events)
    {
        var created = await _h.Channels.CreateAsync(_h.OrgId, AlertHarness.Admin,
            new ChannelInput(ChannelKinds.Webhook, url ?? _receiver.Url, "Ops bridge", events.Length > 0 ? events : WebhookEvents.All.ToList()));
        Assert.True(created.Result.Succeeded, created.Result.Error);
        return (created.Id!.Value, created.Secret!);
    }

    private async Task<List<WebhookDelivery>> DeliveriesAsync()
    {
        await using var db = _h.Ledger.Db.CreateContext();
        return await db.WebhookDeliveries.OrderBy(d => d.Id).ToListAsync();
    }

    private async Task<List<WebhookAttempt>> AttemptsAsync(long deliveryId)
    {
        await using var db = _h.Ledger.Db.CreateContext();
        return await db.WebhookAttempts.Where(a => a.DeliveryId == deliveryId).OrderBy(a => a.Id).ToListAsync();
    }

    [Fact]
    public async Task An_alert_firing_is_delivered_once_signed_with_the_secret_shown_at_creation()
    {
        var (_, secret) = await AddWebhookAsync(events: WebhookEvents.AlertSubscription(AlertKinds.OrgAllowancePercent));
        Assert.StartsWith("whsec_", secret);

        await _h.SpendAsync("e1", 11_000); // 55 %
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        await _h.SpendAsync("e2", 5_000); // 80 %
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        Assert.Equal(0, await _h.Evaluator.EvaluateAsync(_h.OrgId)); // evaluated again: nothing new
        Assert.Equal(2, await _h.Webhooks.DispatchDueAsync(default));
        Assert.Equal(0, await _h.Webhooks.DispatchDueAsync(default));

        var received = _receiver.Received.ToList();
        Assert.Equal(2, received.Count);
        Assert.Equal(2, received.Select(r => r.Id).Distinct().Count());
        foreach (var r in received)
        {
            Assert.True(WebhookSignature.Verify(secret, r.Id!, long.Parse(r.Timestamp!, System.Globalization.CultureInfo.InvariantCulture), r.Body, r.Signature!), "signature verifies with the secret");
            Assert.False(WebhookSignature.Verify(WebhookSignature.NewSecret(), r.Id!, long.Parse(r.Timestamp!, System.Globalization.CultureInfo.InvariantCulture), r.Body, r.Signature!));
            Assert.False(WebhookSignature.Verify(secret, r.Id!, long.Parse(r.Timestamp!, System.Globalization.CultureInfo.InvariantCulture), r.Body + " ", r.Signature!), "a changed body fails");
        }
        using var json = JsonDocument.Parse(received.Single(r => r.Body.Contains("\"threshold\":80", StringComparison.Ordinal)).Body);
        var root = json.RootElement;
        Assert.Equal("alert.fired", root.GetProperty("type").GetString());
        Assert.Equal(_h.Ledger.Now, root.GetProperty("occurred_at").GetDateTime());
        Assert.Equal(root.GetProperty("id").GetString(), received.Single(r => r.Body == root.GetRawText()).Id);
        Assert.Equal("org", root.GetProperty("organization").GetProperty("slug").GetString());
        var data = root.GetProperty("data");
        Assert.Equal(AlertKinds.OrgAllowancePercent, data.GetProperty("rule").GetString());
        Assert.Equal(20_000m, data.GetProperty("allowance").GetDecimal());
        Assert.Equal(16_000m, data.GetProperty("used").GetDecimal());
        Assert.Equal(4_000m, data.GetProperty("balance").GetDecimal());
        Assert.Equal("Org has used 80% of its monthly credits", data.GetProperty("title").GetString());
        Assert.Equal($"{AlertHarness.BaseUrl}/orgs/org/settings/usage", data.GetProperty("url").GetString());

        Assert.All(await DeliveriesAsync(), d => Assert.NotNull(d.DeliveredAt));
    }

    [Fact]
    public async Task Only_subscribed_enabled_channels_receive_an_event()
    {
        await AddWebhookAsync(events: WebhookEvents.CreditsExhausted);
        var (off, _) = await AddWebhookAsync(events: WebhookEvents.AlertSubscription(AlertKinds.OrgAllowancePercent));
        Assert.True((await _h.Channels.SetEnabledAsync(_h.OrgId, AlertHarness.Admin, off, false)).Succeeded);

        await _h.SpendAsync("e1", 12_000);
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId)); // 50 % fired, to the bell and e-mail only
        Assert.Empty(await DeliveriesAsync());
    }

    [Fact]
    public async Task Failures_are_retried_with_back_off_after_a_500_and_a_dropped_connection_and_every_attempt_is_logged()
    {
        var (_, secret) = await AddWebhookAsync(events: WebhookEvents.AlertSubscription(AlertKinds.OrgAllowancePercent));
        _receiver.Answer(500, WebhookReceiver.Drop);
        await _h.SpendAsync("e1", 11_000);
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));

        Assert.Equal(1, await _h.Webhooks.DispatchDueAsync(default)); // 500
        var delivery = Assert.Single(await DeliveriesAsync());
        Assert.Equal(500, delivery.LastStatusCode);
        Assert.Null(delivery.DeliveredAt);
        Assert.Equal(_h.Ledger.Now + WebhookDispatcher.BackoffAfter(1), delivery.NextAttemptAt);
        Assert.Equal(0, await _h.Webhooks.DispatchDueAsync(default)); // not due yet

        _h.Ledger.Clock.Advance(WebhookDispatcher.BackoffAfter(1));
        Assert.Equal(1, await _h.Webhooks.DispatchDueAsync(default)); // dropped connection
        delivery = Assert.Single(await DeliveriesAsync());
        Assert.Null(delivery.LastStatusCode);
        Assert.Equal(_h.Ledger.Now + WebhookDispatcher.BackoffAfter(2), delivery.NextAttemptAt);

        _h.Ledger.Clock.Advance(WebhookDispatcher.BackoffAfter(2));
        Assert.Equal(1, await _h.Webhooks.DispatchDueAsync(default)); // 200
        delivery = Assert.Single(await DeliveriesAsync());
        Assert.NotNull(delivery.DeliveredAt);
        Assert.Equal(3, delivery.Attempts);

        var attempts = await AttemptsAsync(delivery.Id);
        Assert.Equal([500, null, 200], attempts.Select(a => a.StatusCode));
        Assert.Equal("receiver says 500", attempts[0].Excerpt);
        Assert.True(attempts[1].Excerpt.Contains("closed the connection", StringComparison.Ordinal), attempts[1].Excerpt);
        Assert.All(attempts, a => Assert.True(a.LatencyMs >= 0));
        // The same event id on every attempt (receivers de-duplicate on it), each signed for its own timestamp.
        var received = _receiver.Received.ToList();
        Assert.Equal(3, received.Count);
        Assert.Single(received.Select(r => r.Id).Distinct());
        Assert.All(received, r => Assert.True(WebhookSignature.Verify(secret, r.Id!, long.Parse(r.Timestamp!, System.Globalization.CultureInfo.InvariantCulture), r.Body, r.Signature!)));
        Assert.Equal(0, await _h.Webhooks.DispatchDueAsync(default));
    }

    [Fact]
    public async Task A_delivery_pending_at_a_restart_is_sent_after_it_and_only_once()
    {
        await AddWebhookAsync(events: WebhookEvents.AlertSubscription(AlertKinds.OrgAllowancePercent));
        var port = _receiver.Port;
        await _receiver.DisposeAsync(); // the receiver is down: the first attempt cannot connect
        await _h.SpendAsync("e1", 11_000);
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        Assert.Equal(1, await _h.Webhooks.DispatchDueAsync(default));
        Assert.Null(Assert.Single(await DeliveriesAsync()).DeliveredAt);

        // The portal restarts (new services, same database); the receiver comes back on its port.
        await using var restarted = AlertHarness.BuildServices(_h.Ledger);
        _receiver = await WebhookReceiver.StartAsync(port);
        _h.Ledger.Clock.Advance(TimeSpan.FromMinutes(1));
        var dispatcher = restarted.GetRequiredService<WebhookDispatcher>();
        Assert.Equal(1, await dispatcher.DispatchDueAsync(default));
        Assert.Equal(0, await dispatcher.DispatchDueAsync(default));
        Assert.Single(_receiver.Received);
        Assert.NotNull(Assert.Single(await DeliveriesAsync()).DeliveredAt);
    }

    [Fact]
    public async Task An_endpoint_failing_for_24_hours_is_disabled_its_deliveries_given_up_and_the_admins_told()
    {
        var (id, _) = await AddWebhookAsync(events: WebhookEvents.AlertSubscription(AlertKinds.OrgAllowancePercent));
        _receiver.Answer(Enumerable.Repeat(503, 100).ToArray());
        await _h.SpendAsync("e1", 11_000);
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        var start = _h.Ledger.Now;

        var attempts = 0;
        while (attempts < 50)
        {
            attempts += await _h.Webhooks.DispatchDueAsync(default);
            var d = Assert.Single(await DeliveriesAsync());
            if (d.FailedAt is not null) break;
            Assert.True(d.NextAttemptAt <= start + WebhookDispatcher.RetryWindow, "no attempt is planned after the 24 h window");
            _h.Ledger.Clock.Advance(d.NextAttemptAt - _h.Ledger.Now);
        }
        var delivery = Assert.Single(await DeliveriesAsync());
        Assert.Equal(start + WebhookDispatcher.RetryWindow, delivery.FailedAt);
        Assert.InRange(attempts, 8, 20);
        Assert.Equal(attempts, _receiver.Received.Count);

        var channel = (await _h.Channels.FindAsync(_h.OrgId, id))!;
        Assert.False(channel.Enabled);
        Assert.Contains("failed for 24 hours", channel.DisabledReason);
        var note = Assert.Single(await _h.NotificationsAsync(_h.Ledger.Alice.Id), n => n.Title.StartsWith("Alert channel disabled", StringComparison.Ordinal));
        Assert.Equal(WebhookEndpoints.Page("org", id), note.Link);
        Assert.Contains(await _h.EmailsAsync(), m => m.Kind == "channel" && m.To == "alice@test.test" && m.Subject == "Alert channel disabled: Ops bridge");
        await using (var db = _h.Ledger.Db.CreateContext())
            Assert.Single(await db.AuditEntries.Where(a => a.Action == "alerts.channel_disabled").ToListAsync());

        // Disabled: a new firing sends nothing there.
        await _h.SpendAsync("e2", 6_000);
        Assert.Equal(1, await _h.Evaluator.EvaluateAsync(_h.OrgId));
        Assert.Single(await DeliveriesAsync());
    }

    [Fact]
    public async Task Credits_exhausted_and_replenished_and_a_member_reaching_their_limit_are_announced_once_each()
    {
        await AddWebhookAsync(events: [WebhookEvents.CreditsExhausted, WebhookEvents.CreditsReplenished, WebhookEvents.MemberLimitReached]);
        await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, [new(_h.Ledger.Bob.Id, await _h.VersionOfAsync(_h.Ledger.Bob.Id))],
            MemberCapMode.Custom, 2_000_000);
        await _h.SpendAsync("b1", 2_000, "bob@test.test");
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        Assert.Equal([WebhookEvents.MemberLimitReached], (await DeliveriesAsync()).Select(d => d.EventType));

        await _h.SpendAsync("a1", 18_500); // the organization's 20,000 are gone
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        Assert.Equal([WebhookEvents.MemberLimitReached, WebhookEvents.CreditsExhausted], (await DeliveriesAsync()).Select(d => d.EventType));

        await _h.Ledger.Ledger.GrantAsync(_h.OrgId, GrantKinds.CreditPackage, 5_000_000, null, "Package", null);
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        var deliveries = await DeliveriesAsync();
        Assert.Equal([WebhookEvents.MemberLimitReached, WebhookEvents.CreditsExhausted, WebhookEvents.CreditsReplenished], deliveries.Select(d => d.EventType));
        using var replenished = JsonDocument.Parse(deliveries[2].Payload);
        Assert.Equal("credits_added", replenished.RootElement.GetProperty("data").GetProperty("reason").GetString());
        using var limit = JsonDocument.Parse(deliveries[0].Payload);
        var member = limit.RootElement.GetProperty("data").GetProperty("member");
        Assert.Equal("bob@test.test", member.GetProperty("email").GetString());
        Assert.Equal(2_000m, member.GetProperty("limit").GetDecimal());

        Assert.Equal(3, await _h.Webhooks.DispatchDueAsync(default));
        Assert.Equal(3, _receiver.Received.Count);
    }

    [Fact]
    public async Task Concurrent_evaluations_announce_a_change_once()
    {
        await AddWebhookAsync(events: [WebhookEvents.CreditsExhausted]);
        await _h.SpendAsync("a1", 20_500);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => _h.Evaluator.EvaluateAsync(_h.OrgId))));
        Assert.Single(await DeliveriesAsync());
    }

    [Fact]
    public async Task Slack_gets_a_readable_message_with_names_as_text()
    {
        await using (var db = _h.Ledger.Db.CreateContext())
            await db.Organizations.Where(o => o.Id == _h.OrgId).ExecuteUpdateAsync(s => s.SetProperty(o => o.Name, "Acme & <Sons>"));
        var created = await _h.Channels.CreateAsync(_h.OrgId, AlertHarness.Admin,
            new ChannelInput(ChannelKinds.Slack, _receiver.Url, "#ai-spend", [WebhookEvents.AlertSubscription(AlertKinds.OrgAllowancePercent)]));
        Assert.Null(created.Secret); // Slack has no signing secret
        await _h.SpendAsync("e1", 11_000);
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        await _h.Webhooks.DispatchDueAsync(default);

        var r = Assert.Single(_receiver.Received);
        Assert.Null(r.Signature);
        using var json = JsonDocument.Parse(r.Body);
        Assert.Equal("Acme &amp; &lt;Sons&gt; has used 50% of its monthly credits", json.RootElement.GetProperty("text").GetString());
        var blocks = json.RootElement.GetProperty("blocks");
        Assert.Equal("Acme & <Sons> has used 50% of its monthly credits", blocks[0].GetProperty("text").GetProperty("text").GetString());
        Assert.Equal("plain_text", blocks[1].GetProperty("text").GetProperty("type").GetString());
        Assert.Contains("11,000 of its 20,000 monthly credits", blocks[1].GetProperty("text").GetProperty("text").GetString());
        Assert.Equal($"<{AlertHarness.BaseUrl}/orgs/org/settings/usage|Open in Cassidy> · Acme &amp; &lt;Sons&gt;",
            blocks[2].GetProperty("elements")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Send_test_and_resend_attempt_at_once_and_are_logged()
    {
        var (id, secret) = await AddWebhookAsync();
        var (result, outcome) = await _h.Channels.SendTestAsync(_h.OrgId, id, _h.Ledger.Ledger);
        Assert.True(result.Succeeded);
        Assert.True(outcome!.Delivered);
        Assert.Equal(200, outcome.StatusCode);
        var first = Assert.Single(_receiver.Received);
        Assert.Contains("\"type\":\"webhook.test\"", first.Body);

        var (rows, total) = await _h.Channels.DeliveriesAsync(_h.OrgId, id, 0, 20);
        Assert.Equal(1, total);
        Assert.Equal("Delivered", rows[0].State);
        (result, outcome) = await _h.Channels.ResendAsync(_h.OrgId, rows[0].Id);
        Assert.True(outcome!.Delivered);
        Assert.Equal(2, _receiver.Received.Count);
        Assert.Equal(first.Id, _receiver.Received.Last().Id); // the same event, so the receiver can tell
        Assert.Equal(2, (await _h.Channels.AttemptsAsync(_h.OrgId, rows[0].Id)).Count);

        // Rotation: the next attempt is signed with the new secret only.
        var rotated = await _h.Channels.RotateSecretAsync(_h.OrgId, AlertHarness.Admin, id);
        await _h.Channels.SendTestAsync(_h.OrgId, id, _h.Ledger.Ledger);
        var last = _receiver.Received.Last();
        Assert.True(WebhookSignature.Verify(rotated.Secret!, last.Id!, long.Parse(last.Timestamp!, System.Globalization.CultureInfo.InvariantCulture), last.Body, last.Signature!));
        Assert.False(WebhookSignature.Verify(secret, last.Id!, long.Parse(last.Timestamp!, System.Globalization.CultureInfo.InvariantCulture), last.Body, last.Signature!));

        // Another organization's admin cannot read or resend this log.
        Assert.Equal(0, (await _h.Channels.DeliveriesAsync(_h.OrgId + 1, id, 0, 20)).Total);
        Assert.False((await _h.Channels.ResendAsync(_h.OrgId + 1, rows[0].Id)).Result.Succeeded);
    }

    [Fact]
    public async Task Changes_are_audited_and_bad_input_changes_nothing()
    {
        var (id, _) = await AddWebhookAsync();
        Assert.Equal("url", (await _h.Channels.UpdateAsync(_h.OrgId, AlertHarness.Admin, id,
            new ChannelInput(ChannelKinds.Webhook, "ftp://x.example", "", [WebhookEvents.CreditsExhausted]))).Field);
        Assert.Equal("events", (await _h.Channels.UpdateAsync(_h.OrgId, AlertHarness.Admin, id,
            new ChannelInput(ChannelKinds.Webhook, _receiver.Url, "", []))).Field);
        Assert.Equal("description", (await _h.Channels.UpdateAsync(_h.OrgId, AlertHarness.Admin, id,
            new ChannelInput(ChannelKinds.Webhook, _receiver.Url, "<script>", [WebhookEvents.CreditsExhausted]))).Field);
        Assert.Equal(WebhookEvents.All.Count, (await _h.Channels.FindAsync(_h.OrgId, id))!.Events.Count);

        Assert.True((await _h.Channels.UpdateAsync(_h.OrgId, AlertHarness.Admin, id,
            new ChannelInput(ChannelKinds.Webhook, _receiver.Url, "Ops", [WebhookEvents.CreditsExhausted]))).Succeeded);
        await _h.Channels.RotateSecretAsync(_h.OrgId, AlertHarness.Admin, id);
        Assert.True((await _h.Channels.DeleteAsync(_h.OrgId, AlertHarness.Admin, id)).Succeeded);
        await using var db = _h.Ledger.Db.CreateContext();
        Assert.Equal(["alerts.channel_created", "alerts.channel_changed", "alerts.channel_secret_rotated", "alerts.channel_deleted"],
            await db.AuditEntries.OrderBy(a => a.Id).Select(a => a.Action).ToListAsync());
        Assert.Empty(await db.WebhookEndpoints.ToListAsync());
    }
}
