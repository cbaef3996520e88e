using System.Net;
using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Tests.Organizations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Security;

/// <summary>
/// Forms posted without the antiforgery token are refused before they do anything. Each request still carries the
/// antiforgery cookie (the form page was fetched first): only the hidden form field is missing.
/// </summary>
public sealed class AntiforgeryTests(PortalFactoryFixture fixture) : IClassFixture<PortalFactoryFixture>
{
    private const string TokenField = "__RequestVerificationToken";

    [Fact]
    public async Task A_login_post_without_the_token_is_refused_and_signs_nobody_in()
    {
        var client = fixture.Factory.CreateBrowserlessClient();
        var form = await PortalFactory.FormFieldsAsync(client, "/Account/Login");
        Assert.True(form.Remove(TokenField));
        form["Input.Email"] = "admin@acme.test";
        form["Input.Password"] = "Demo123!";

        var response = await client.PostAsync("/Account/Login", new FormUrlEncodedContent(form));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(response.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies : [], c => c.StartsWith(".AspNetCore.Identity.Application", StringComparison.Ordinal));
        var page = await client.GetAsync("/orgs/acme/settings");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/Account/Login", page.Headers.Location!.PathAndQuery);
    }

    [Fact]
    public async Task A_register_post_without_the_token_is_refused_and_creates_nothing()
    {
        var client = fixture.Factory.CreateBrowserlessClient();
        var form = await PortalFactory.FormFieldsAsync(client, "/Account/Register");
        Assert.True(form.Remove(TokenField));
        form["Input.DisplayName"] = "Forge Ry";
        form["Input.OrganizationName"] = "Forgery Inc";
        form["Input.Email"] = "forgery@newco.test";
        form["Input.Password"] = "Sturdy#Pass9";
        form["Input.ConfirmPassword"] = "Sturdy#Pass9";

        var response = await client.PostAsync("/Account/Register", new FormUrlEncodedContent(form));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await using var db = await fixture.Factory.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        Assert.False(await db.Users.AnyAsync(u => u.Email == "forgery@newco.test"));
        Assert.False(await db.Organizations.AnyAsync(o => o.Name == "Forgery Inc"));
    }

    [Fact]
    public async Task A_logout_post_without_the_token_is_refused_and_the_user_stays_signed_in()
    {
        var client = await fixture.Factory.SignInAsync("jordan@acme.test");

        var forged = await client.PostAsync("/Account/Logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["returnUrl"] = "" }));

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/orgs/acme/settings")).StatusCode);

        // The control: the same post with the signed-in user's token signs out.
        var form = await PortalFactory.FormFieldsAsync(client, "/Account/Manage");
        var withToken = await client.PostAsync("/Account/Logout", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [TokenField] = form[TokenField],
            ["returnUrl"] = "",
        }));
        Assert.Equal(HttpStatusCode.Redirect, withToken.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/orgs/acme/settings")).StatusCode);
    }
}
