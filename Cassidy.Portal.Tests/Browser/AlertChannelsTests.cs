using System.Text.RegularExpressions;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Webhooks;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

[Collection(BrowserCollection.Name)]
public sealed class AlertChannelsTests(BrowserFixture browser)
{
    [Fact]
    public async Task An_admin_adds_a_webhook_sends_a_test_event_and_sees_it_delivered_in_the_log()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var admin = await browser.SignInAsync("admin@acme.test");
        await BrowserFixture.GoAsync(admin, "/orgs/acme/settings/limits");
        await Expect(admin.GetByText("Where alerts go")).ToBeVisibleAsync();

        // Add: a refused URL is explained beside the field, and nothing is saved.
        await admin.Locator("#channel-add").ClickAsync();
        var url = admin.Locator("#channel-url");
        await url.FillAsync("ftp://files.example.com/in");
        await admin.Locator("#channel-save").ClickAsync();
        await Expect(admin.GetByText("Enter a full http(s) URL, like https://hooks.example.com/cassidy.")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(admin, "channel-url-refused");
        await url.FillAsync(receiver.Url);
        await admin.Locator("#channel-description").FillAsync("Ops bridge");
        await admin.Locator("#channel-save").ClickAsync();

        // The signing secret is shown once.
        var secretField = admin.Locator("#channel-secret");
        await Expect(secretField).ToHaveValueAsync(new Regex("^whsec_"));
        var secret = await secretField.InputValueAsync();
        await BrowserFixture.ScreenshotAsync(admin, "channel-secret-once");
        await admin.Locator("#channel-done").ClickAsync();
        var row = admin.GetByTestId("channel-row").Filter(new() { HasText = "Ops bridge" });
        await Expect(row).ToContainTextAsync("All events");
        await Expect(row.GetByTestId("channel-status")).ToHaveTextAsync("On");
        await BrowserFixture.ScreenshotAsync(admin, "limits-where-alerts-go");

        // The channel's page: send a test event and see it in the delivery log.
        await row.GetByTestId("channel-link").ClickAsync();
        await Expect(admin).ToHaveURLAsync(new Regex("/orgs/acme/settings/limits/channels/\\d+$"));
        await BrowserFixture.WaitForCircuitAsync(admin);
        await Expect(admin.GetByTestId("delivery-empty")).ToBeVisibleAsync();
        await admin.Locator("#channel-test").ClickAsync();
        await Expect(admin.GetByText(new Regex("Test event delivered: HTTP 200 in \\d+ ms"))).ToBeVisibleAsync();
        var log = admin.GetByTestId("delivery-log");
        await Expect(log.GetByTestId("delivery-type")).ToHaveTextAsync("webhook.test");
        await Expect(log.GetByTestId("delivery-state")).ToHaveTextAsync("Delivered");
        await Expect(log.GetByTestId("delivery-response")).ToContainTextAsync("HTTP 200");
        await BrowserFixture.ScreenshotAsync(admin, "channel-delivery-log");

        // What the receiver got verifies with the secret the page showed.
        var received = Assert.Single(receiver.Received);
        Assert.True(WebhookSignature.Verify(secret, received.Id!, long.Parse(received.Timestamp!, System.Globalization.CultureInfo.InvariantCulture), received.Body, received.Signature!));
        Assert.Contains("\"slug\":\"acme\"", received.Body);

        // Each attempt is logged; resend sends the same event again.
        await log.GetByTestId("delivery-attempts").ClickAsync();
        await Expect(admin.GetByTestId("attempts-table")).ToContainTextAsync("HTTP 200");
        await admin.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Close", Exact = true }).ClickAsync();
        await log.GetByTestId("delivery-resend").ClickAsync();
        await Expect(admin.GetByText(new Regex("webhook.test resent: delivered"))).ToBeVisibleAsync();
        Assert.Equal(2, receiver.Received.Count);
        Assert.Equal(received.Id, receiver.Received.Last().Id);

        // Delete, after confirming; the list is empty again.
        await BrowserFixture.GoAsync(admin, "/orgs/acme/settings/limits");
        await admin.GetByRole(AriaRole.Button, new() { Name = "Delete Ops bridge" }).ClickAsync();
        await admin.Locator("#dialog-ok").ClickAsync();
        await Expect(admin.GetByTestId("channels-empty")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Members_shows_when_each_member_last_used_AI_apart_from_their_last_visit()
    {
        var admin = await browser.SignInAsync("admin@acme.test");
        await BrowserFixture.GoAsync(admin, "/orgs/acme/settings/members");
        var morgan = admin.GetByRole(AriaRole.Row).Filter(new() { HasText = "Morgan Member" });
        await Expect(morgan.GetByTestId("member-last-ai-use")).ToHaveTextAsync(new Regex(@"^\d{1,2} [A-Z][a-z]{2} \d{4}$"));
        await BrowserFixture.ScreenshotAsync(admin, "members-last-ai-use");
    }
}
