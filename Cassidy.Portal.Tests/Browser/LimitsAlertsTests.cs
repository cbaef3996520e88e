using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Playwright;
using MimeKit;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

[Collection(BrowserCollection.Name)]
public sealed class LimitsAlertsTests(BrowserFixture browser)
{
    private const string Casey = "casey@acme.test";

    private HttpClient Api()
    {
        var client = new HttpClient { BaseAddress = new Uri(browser.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BrowserFixture.IngestKey);
        return client;
    }

    private async Task<JsonElement> AuthorizeCaseyAsync()
    {
        var response = await Api().PostAsJsonAsync("/internal/v1/authorize", new { organization = "acme", user = Casey, feature = "agent_chat" });
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>A click can land on the prerendered HTML before the circuit is interactive: click until what it opens shows.</summary>
    private static async Task ClickUntilVisibleAsync(ILocator trigger, ILocator opened)
    {
        for (var attempt = 0; attempt < 20 && !await opened.IsVisibleAsync(); attempt++)
        {
            await trigger.ClickAsync();
            try { await opened.WaitForAsync(new() { Timeout = 1000 }); } catch (TimeoutException) { }
        }
        await Expect(opened).ToBeVisibleAsync();
    }

    [Fact]
    public async Task An_admin_caps_a_member_just_above_their_usage_events_push_them_over_and_they_are_refused_alerted_and_emailed()
    {
        var admin = await browser.SignInAsync("admin@acme.test");
        await admin.GotoAsync("/orgs/acme/settings/limits");
        var row = admin.GetByTestId($"cap-row-{Casey}");
        await Expect(row).ToBeVisibleAsync();
        await Expect(row.GetByTestId("cap-effective")).ToHaveTextAsync("1,500"); // the acme default
        var used = decimal.Parse((await row.GetByTestId("cap-used").InnerTextAsync()).Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
        var cap = Math.Floor(used) + 1; // just above what Casey used

        // Custom limit for Casey.
        var custom = admin.GetByRole(AriaRole.Option, new() { Name = "Custom" });
        await ClickUntilVisibleAsync(row.GetByTestId("cap-mode"), custom);
        await custom.ClickAsync();
        var credits = row.GetByLabel("Credits for Casey Kim");
        await credits.FillAsync("1.2345");
        await row.GetByTestId("cap-save").ClickAsync();
        await Expect(row).ToContainTextAsync("Use at most 3 decimals");
        await credits.FillAsync(cap.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await row.GetByTestId("cap-save").ClickAsync();
        await Expect(row.GetByTestId("cap-effective")).ToHaveTextAsync(cap.ToString("#,##0", System.Globalization.CultureInfo.InvariantCulture));
        await Expect(row.GetByTestId("cap-status")).ToHaveTextAsync(new Regex("Near limit|Within limit"));
        await BrowserFixture.ScreenshotAsync(admin, "limits-casey-capped");
        Assert.True((await AuthorizeCaseyAsync()).GetProperty("allowed").GetBoolean());

        // The AI runtime records Casey's calls: 4 credits each, over the cap.
        var events = Enumerable.Range(0, 3).Select(i => new
        {
            id = $"browser-casey-{Guid.NewGuid():N}", organization = "acme", user = Casey, occurredAt = DateTimeOffset.UtcNow,
            feature = "agent_chat", model = "gpt-4.1", inputTokens = 2000, outputTokens = 0,
        });
        var recorded = await Api().PostAsJsonAsync("/internal/v1/usage-events", new { events });
        recorded.EnsureSuccessStatusCode();
        Assert.Equal(3, (await recorded.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("recorded").GetInt32());

        var refused = await AuthorizeCaseyAsync();
        Assert.False(refused.GetProperty("allowed").GetBoolean());
        Assert.Equal("member_limit_reached", refused.GetProperty("reason").GetString());

        // The admin's open page: the bell follows live; the dropdown names Casey's alert.
        await Expect(admin.GetByTestId("bell")).ToHaveAttributeAsync("aria-label", new Regex("unread"));
        await ClickUntilVisibleAsync(admin.GetByTestId("bell"), admin.GetByTestId("bell-all"));
        await Expect(admin.GetByTestId("bell-item").Filter(new() { HasText = "Casey Kim has used 100% of their credit limit in Acme Corp" })).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(admin, "admin-bell-dropdown");
        await admin.Keyboard.PressAsync("Escape");
        await admin.ReloadAsync();
        await Expect(admin.GetByTestId($"cap-row-{Casey}").GetByTestId("cap-status")).ToHaveTextAsync("Limit reached");
        await Expect(admin.GetByTestId("alert-history")).ToContainTextAsync("Casey Kim has used 100% of their credit limit");
        await BrowserFixture.ScreenshotAsync(admin, "limits-after-alert");

        // Casey's own bell and notifications.
        var casey = await browser.SignInAsync(Casey);
        await Expect(casey.GetByTestId("bell")).ToHaveAttributeAsync("aria-label", new Regex(@"Notifications, \d+ unread"));
        await ClickUntilVisibleAsync(casey.GetByTestId("bell"), casey.GetByTestId("bell-all"));
        await Expect(casey.GetByTestId("bell-item").Filter(new() { HasText = "You have used 100% of your credit limit in Acme Corp" })).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(casey, "member-bell-dropdown");
        await casey.GetByTestId("bell-all").ClickAsync();
        await Expect(casey).ToHaveURLAsync(new Regex("/notifications$"));
        await Expect(casey.GetByTestId("notification").First).ToContainTextAsync("AI features are unavailable to you");
        await casey.GetByTestId("mark-all-read").ClickAsync();
        await Expect(casey.GetByTestId("bell")).ToHaveAttributeAsync("aria-label", "Notifications");
        await BrowserFixture.ScreenshotAsync(casey, "member-notifications");

        // And the email, as an .eml file in the pickup folder (no SMTP host in this portal).
        await BrowserFixture.WaitForFileAsync(Path.Combine(browser.Factory.DataFolder, "mail"), text =>
        {
            var mail = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(text)));
            return mail.To.Mailboxes.Any(m => m.Address == Casey) && mail.Subject == "You have used 100% of your credit limit in Acme Corp"
                && mail.TextBody?.Contains("/orgs/acme/my-usage", StringComparison.Ordinal) == true;
        });
    }
}
