using Bunit;
using Cassidy.Portal.Components.Shared;
using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Components.Layout;

public sealed class SettingsShellTests : MudTestContext
{
    private static OrgMembership As(OrganizationRole role) => new(1, "acme", "Acme Corp", "Team", "UTC", "u1", role);

    [Fact]
    public void Admins_see_the_six_settings_tabs_and_their_own_usage()
    {
        var cut = Render<SettingsShell>(p => p.Add(s => s.Membership, As(OrganizationRole.Admin)).Add(s => s.Title, "Overview").Add(s => s.ShowCredits, false));

        var tabs = cut.FindAll(".portal-tab").Select(t => t.TextContent.Trim()).ToArray();
        Assert.Equal(["Overview", "Usage", "Plan & billing", "Limits & alerts", "Members", "Audit log", "My usage"], tabs);
        Assert.Equal("/orgs/acme/settings/limits", cut.FindAll(".portal-tab")[3].GetAttribute("href"));
    }

    [Fact]
    public void A_member_sees_only_my_usage()
    {
        var cut = Render<SettingsShell>(p => p.Add(s => s.Membership, As(OrganizationRole.Member)).Add(s => s.Title, "My usage").Add(s => s.ShowCredits, false));

        var tab = Assert.Single(cut.FindAll(".portal-tab"));
        Assert.Equal("My usage", tab.TextContent.Trim());
        Assert.Equal("/orgs/acme/my-usage", tab.GetAttribute("href"));
    }

    [Fact]
    public void A_refused_user_sees_the_friendly_status_instead_of_the_settings()
    {
        var cut = Render<SettingsShell>(p => p.Add(s => s.DeniedCode, 403).Add(s => s.Title, "Usage")
            .AddChildContent("<p id='secret'>member data</p>"));

        Assert.Contains("Only owners and admins", cut.Markup);
        Assert.Empty(cut.FindAll("#secret"));
        Assert.Empty(cut.FindAll(".portal-tab"));
    }
}
