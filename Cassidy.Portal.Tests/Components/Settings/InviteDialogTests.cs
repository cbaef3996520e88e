using Bunit;
using Cassidy.Portal.Components.Pages.Settings;
using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;

namespace Cassidy.Portal.Tests.Components.Settings;

public sealed class InviteDialogTests : MudTestContext
{
    private readonly List<(string Email, OrganizationRole Role)> _calls = [];
    private CreatedInvitation _answer = new(ChangeResult.Ok, "http://portal.test/invitations/abc");

    private async Task<IRenderedComponent<MudDialogProvider>> OpenAsync(bool canInviteOwner = false)
    {
        var provider = Render<MudDialogProvider>();
        var dialogs = Services.GetRequiredService<IDialogService>();
        var parameters = new DialogParameters<InviteDialog>
        {
            { d => d.Invite, (email, role) => { _calls.Add((email, role)); return Task.FromResult(_answer); } },
            { d => d.CanInviteOwner, canInviteOwner },
            { d => d.UpgradeHref, "/orgs/acme/settings/plan" },
        };
        await provider.InvokeAsync(() => dialogs.ShowAsync<InviteDialog>("Invite", parameters));
        return provider;
    }

    [Fact]
    public async Task A_malformed_email_is_flagged_beside_the_field_and_nothing_is_sent()
    {
        var cut = await OpenAsync();
        cut.Find("#invite-email").Input("nina@");
        cut.Find("#invite-submit").Click();

        cut.WaitForAssertion(() => Assert.Contains("Enter a valid email address, like name@company.com.", cut.Markup));
        Assert.Empty(_calls);
    }

    [Fact]
    public async Task A_refusal_from_the_server_shows_beside_the_email_field()
    {
        _answer = new(ChangeResult.Refused("nina@acme.test is already a member of Acme Corp.", "email"), null);
        var cut = await OpenAsync();
        cut.Find("#invite-email").Input("nina@acme.test");
        cut.Find("#invite-submit").Click();

        cut.WaitForAssertion(() => Assert.Contains("nina@acme.test is already a member of Acme Corp.", cut.Find(".mud-input-helper-text").TextContent));
        Assert.Equal([("nina@acme.test", OrganizationRole.Member)], _calls);
    }

    [Fact]
    public async Task The_plan_limit_is_explained_with_a_link_to_the_plans()
    {
        _answer = new(ChangeResult.Refused("The Free plan includes 3 members, and Acme has 3 (counting pending invitations). Upgrade the plan to invite more.", "plan"), null);
        var cut = await OpenAsync();
        cut.Find("#invite-email").Input("nina@newco.test");
        cut.Find("#invite-submit").Click();

        cut.WaitForAssertion(() =>
        {
            var alert = cut.Find("[data-testid=invite-plan-limit]");
            Assert.Contains("The Free plan includes 3 members", alert.TextContent);
            Assert.Equal("/orgs/acme/settings/plan", alert.QuerySelector("a")!.GetAttribute("href"));
        });
    }

    [Fact]
    public async Task A_created_invitation_shows_its_link()
    {
        var cut = await OpenAsync();
        cut.Find("#invite-email").Input("nina@newco.test");
        cut.Find("#invite-submit").Click();

        cut.WaitForAssertion(() => Assert.Equal("http://portal.test/invitations/abc", cut.Find("#invite-link").GetAttribute("value")));
    }
}
