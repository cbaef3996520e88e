using System.Text.RegularExpressions;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

[Collection(BrowserCollection.Name)]
public sealed class MembersTests(BrowserFixture browser)
{
    [Fact]
    public async Task An_admin_invites_a_person_who_registers_into_acme_and_loses_access_when_removed()
    {
        var admin = await browser.SignInAsync("admin@acme.test");
        await BrowserFixture.GoAsync(admin, "/orgs/acme/settings/members");
        await Expect(admin.GetByText("Morgan Member")).ToBeVisibleAsync();

        // Invite: validation beside the field first, then a real address.
        await admin.GetByTestId("invite-button").ClickAsync();
        var email = admin.Locator("#invite-email");
        await email.FillAsync("not-an-email");
        await admin.Locator("#invite-submit").ClickAsync();
        await Expect(admin.GetByText("Enter a valid email address, like name@company.com.")).ToBeVisibleAsync();
        await email.FillAsync("nina.new@acme.test");
        await admin.Locator("#invite-submit").ClickAsync();
        var linkField = admin.Locator("#invite-link");
        await Expect(linkField).ToHaveValueAsync(new Regex("/invitations/"));
        await BrowserFixture.ScreenshotAsync(admin, "invite-link");
        var link = new Uri(await linkField.InputValueAsync());
        await admin.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
        // The invitation went out through the outbox (no SMTP host here: an .eml file in the pickup folder).
        var mail = await BrowserFixture.WaitForFileAsync(Path.Combine(browser.Factory.DataFolder, "mail"), text => text.Contains(link.AbsolutePath, StringComparison.Ordinal));
        Assert.Contains("Avery Admin invited you to Acme Corp on Cassidy", mail);
        await Expect(admin.GetByTestId("invitations")).ToContainTextAsync("nina.new@acme.test");

        // The invited person opens the link, registers, and lands in acme as a Member.
        var nina = await browser.NewPageAsync();
        await BrowserFixture.GoAsync(nina, link.PathAndQuery);
        await Expect(nina.GetByText("Join Acme Corp")).ToBeVisibleAsync();
        await nina.GetByTestId("register-from-invitation").ClickAsync();
        await Expect(nina.GetByText("You're joining")).ToBeVisibleAsync();
        await Expect(nina.Locator("#Input\\.Email")).ToHaveValueAsync("nina.new@acme.test");
        await Expect(nina.Locator("#Input\\.OrganizationName")).ToHaveCountAsync(0);
        await nina.Locator("#Input\\.DisplayName").FillAsync("Nina New");
        await nina.Locator("#Input\\.Password").FillAsync("Sturdy#Pass9");
        await nina.Locator("#Input\\.ConfirmPassword").FillAsync("Sturdy#Pass9");
        await nina.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        // She confirms her address from the e-mail (the invitation link, which her admin saw too, proves nothing about it),
        // signs in, and lands in acme.
        await Expect(nina.GetByTestId("register-confirmation")).ToContainTextAsync("We sent an e-mail to nina.new@acme.test");
        var confirmation = await browser.Factory.DeliveredEmailAsync("nina.new@acme.test", "Confirm your e-mail address");
        var confirm = new Uri(Regex.Match(confirmation.TextBody ?? "", @"http\S+").Value);
        await nina.GotoAsync(confirm.PathAndQuery);
        await Expect(nina.GetByText("Your e-mail address is confirmed. Sign in to continue.")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(nina, "invited-member-confirmed");
        await nina.Locator("#Input\\.Email").FillAsync("nina.new@acme.test");
        await nina.Locator("#Input\\.Password").FillAsync("Sturdy#Pass9");
        await nina.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await Expect(nina).ToHaveURLAsync(new Regex("/orgs/acme/my-usage$"));
        await Expect(nina.Locator(".portal-tab")).ToHaveTextAsync("My usage");
        await BrowserFixture.ScreenshotAsync(nina, "invited-member-my-usage");

        // The used link is used up.
        var again = await browser.NewPageAsync();
        await again.GotoAsync(link.PathAndQuery);
        await Expect(again.GetByTestId("invitation-state")).ToHaveTextAsync("This invitation has already been used");

        // The admin removes her, after confirming.
        await admin.ReloadAsync();
        await BrowserFixture.WaitForCircuitAsync(admin);
        await admin.GetByLabel("Search members").FillAsync("Nina");
        await Expect(admin.GetByTestId("member-count")).ToHaveTextAsync("1 member"); // the search has reloaded the grid
        await Expect(admin.GetByRole(AriaRole.Row).Filter(new() { HasText = "nina.new@acme.test" })).ToBeVisibleAsync();
        await admin.GetByRole(AriaRole.Button, new() { Name = "Remove Nina New" }).ClickAsync();
        await Expect(admin.GetByText("They lose access at once")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(admin, "remove-confirmation");
        await admin.Locator("#dialog-ok").ClickAsync();
        await Expect(admin.GetByText("Nina New was removed.")).ToBeVisibleAsync();

        // Her open page refuses her next action.
        await nina.GetByTestId("refresh").ClickAsync();
        await Expect(nina.GetByText("We couldn't find that page")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(nina, "removed-member-refused");

        // The audit log shows each step.
        await BrowserFixture.GoAsync(admin, "/orgs/acme/settings/audit");
        var grid = admin.GetByTestId("audit-grid");
        await Expect(grid).ToContainTextAsync("Member invited");
        await Expect(grid).ToContainTextAsync("Member joined");
        await Expect(grid).ToContainTextAsync("Member removed");
        await Expect(grid).ToContainTextAsync("Nina New <nina.new@acme.test>");
        await BrowserFixture.ScreenshotAsync(admin, "audit-log");

        // Searched on the server, newest first; the Time header turns the order round.
        await admin.Locator("#audit-search").FillAsync("nina.new");
        var rows = grid.Locator(".mud-table-body .mud-table-row");
        await Expect(rows).ToHaveCountAsync(3);
        await Expect(rows.First.GetByTestId("audit-action")).ToHaveTextAsync("Member removed");
        await grid.GetByText("Time", new() { Exact = true }).ClickAsync();
        await Expect(rows.First.GetByTestId("audit-action")).ToHaveTextAsync("Member invited");
        await Expect(rows.Last.GetByTestId("audit-action")).ToHaveTextAsync("Member removed");
        await BrowserFixture.ScreenshotAsync(admin, "audit-log-search");
    }
}
