using System.Net;
using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Organizations;

public sealed class AccountTests : IAsyncLifetime
{
    private readonly PortalFactory _factory = new();

    [Fact]
    public async Task Registration_creates_a_free_organization_with_its_creator_as_owner()
    {
        var client = _factory.CreateBrowserlessClient();
        var response = await RegisterAsync(client, "Nina New", "Nina's Lab", "nina@newco.test");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains("/Account/RegisterConfirmation", response.Headers.Location!.ToString());
        await using var db = await DbAsync();
        var membership = await db.Memberships.Include(m => m.Organization).Include(m => m.User)
            .SingleAsync(m => m.User.Email == "nina@newco.test");
        Assert.Equal(OrganizationRole.Owner, membership.Role);
        Assert.Equal("Free", membership.Organization.Plan);
        Assert.Equal("Nina's Lab", membership.Organization.Name);
        Assert.False(membership.User.EmailConfirmed);

        // Not signed in until the address is confirmed. The e-mail's link (on Portal:BaseUrl) confirms it and leads to
        // sign-in, which leads to the new organization; the link itself signs no one in.
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/orgs/ninas-lab/settings")).StatusCode);
        var link = await ConfirmationLinkAsync("nina@newco.test");
        Assert.StartsWith("http://localhost:5000/Account/ConfirmEmail?", link);
        var confirmed = await client.GetAsync(link);
        Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
        var login = confirmed.Headers.Location!.ToString();
        Assert.Contains("Account/Login?ReturnUrl=orgs%2Fninas-lab%2Fsettings", login);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/orgs/ninas-lab/settings")).StatusCode);
        var loginPage = await client.GetAsync(login);
        Assert.True(loginPage.IsSuccessStatusCode, $"{login} → {(int)loginPage.StatusCode}");
        Assert.Contains("Your e-mail address is confirmed", await loginPage.Content.ReadAsStringAsync());
        var signedIn = await PostLoginAsync(client, new Uri(client.BaseAddress!, login).PathAndQuery, "nina@newco.test", "Sturdy#Pass9");
        Assert.EndsWith("orgs/ninas-lab/settings", signedIn.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/orgs/ninas-lab/settings")).StatusCode);
        Assert.Contains("confirmed already", await client.GetStringAsync(link)); // the link has done its work
    }

    [Fact]
    public async Task Whoever_started_an_account_with_your_address_loses_it_when_you_register()
    {
        // Someone registers the address first, with their password, and waits for its owner to confirm it.
        await RegisterAsync(_factory.CreateBrowserlessClient(), "Mallory", "Trap Co", "victim@corp.test", "Mallory#Pass9");

        var owner = _factory.CreateBrowserlessClient();
        var response = await RegisterAsync(owner, "Victor Owner", "Corp", "victim@corp.test", "Victor#Pass9");

        Assert.Contains("/Account/RegisterConfirmation", response.Headers.Location!.ToString()); // as for a new address
        // The owner's e-mail offers a password reset, which confirms the address and retires the other password.
        var link = await ConfirmationLinkAsync("victim@corp.test", "Finish creating your Cassidy account");
        Assert.Contains("/Account/ResetPassword?code=", link);
        var path = new Uri(link).PathAndQuery;
        var form = await PortalFactory.FormFieldsAsync(owner, path);
        form["Input.Email"] = "victim@corp.test";
        form["Input.Password"] = form["Input.ConfirmPassword"] = "Victor#Pass9";
        var reset = await owner.PostAsync(path, new FormUrlEncodedContent(form));
        Assert.Contains("ResetPasswordConfirmation", reset.Headers.Location!.ToString());

        Assert.Contains("Wrong email or password", await (await PortalFactory.PostLoginAsync(_factory.CreateBrowserlessClient(), "victim@corp.test", "Mallory#Pass9")).Content.ReadAsStringAsync());
        var signedIn = await PortalFactory.PostLoginAsync(_factory.CreateBrowserlessClient(), "victim@corp.test", "Victor#Pass9");
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.DoesNotContain("Account/Login", signedIn.Headers.Location!.ToString());
    }

    [Fact]
    public async Task A_weak_password_is_refused_alike_for_a_taken_and_a_free_address()
    {
        var client = _factory.CreateBrowserlessClient();

        var taken = await RegisterAsync(client, "Probe", "Probe Co", "priya@acme.test", "aaaaaaaa");
        var free = await RegisterAsync(client, "Probe", "Probe Co", "nobody@newco.test", "aaaaaaaa");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (taken.StatusCode, free.StatusCode));
        // What was wrong with the password is listed beside the field, one rule a line.
        static string Problems(string page) => System.Text.RegularExpressions.Regex.Match(page, "data-testid=\"password-problems\">(.*?)</ul>",
            System.Text.RegularExpressions.RegexOptions.Singleline).Groups[1].Value;
        var error = Problems(await taken.Content.ReadAsStringAsync());
        Assert.Contains("<li>Passwords must have at least one uppercase", error);
        Assert.Contains("<li>Passwords must have at least one digit", error);
        Assert.Equal(error, Problems(await free.Content.ReadAsStringAsync()));
        await using var db = await DbAsync();
        Assert.False(await db.OutboxMessages.AnyAsync(m => m.To == "priya@acme.test" && m.Kind == "account-exists"));
    }

    [Fact]
    public async Task Sign_in_says_an_address_is_unconfirmed_only_to_whoever_has_its_password()
    {
        await RegisterAsync(_factory.CreateBrowserlessClient(), "Omar Late", "Late Co", "omar@lateco.test");

        var guess = await PortalFactory.PostLoginAsync(_factory.CreateBrowserlessClient(), "omar@lateco.test", "Not#HisPass9");
        var right = await PortalFactory.PostLoginAsync(_factory.CreateBrowserlessClient(), "omar@lateco.test", "Sturdy#Pass9");

        Assert.Contains("Wrong email or password", await guess.Content.ReadAsStringAsync());
        var page = await right.Content.ReadAsStringAsync();
        Assert.Contains("Confirm your e-mail address first", page);
        Assert.Contains("Account/ResendEmailConfirmation", page);
    }

    [Fact]
    public async Task Registering_through_an_invitation_joins_the_organization_once_the_address_is_confirmed()
    {
        string link;
        await using (var scope = _factory.Services.CreateAsyncScope())
        {
            await using var db = await DbAsync();
            var acme = await db.Organizations.SingleAsync(o => o.Slug == "acme");
            var owner = await db.Users.SingleAsync(u => u.Email == "admin@acme.test");
            var invited = await scope.ServiceProvider.GetRequiredService<MemberManagement>()
                .InviteAsync(acme.Id, new AuditActor(owner.Id, owner.DisplayName), "zoe@newco.test", OrganizationRole.Member);
            link = invited.Link!;
        }
        var client = _factory.CreateBrowserlessClient();
        var register = $"/Account/Register?invitation={link[(link.LastIndexOf('/') + 1)..]}";
        var form = await PortalFactory.FormFieldsAsync(client, register);
        form["Input.DisplayName"] = "Zoe New";
        form["Input.Email"] = "zoe@newco.test";
        form["Input.Password"] = form["Input.ConfirmPassword"] = "Sturdy#Pass9";

        var response = await client.PostAsync(register, new FormUrlEncodedContent(form));

        // The invitation link is also shown to the admin who sent it: opening it confirms nothing about the mailbox.
        Assert.Contains("/Account/RegisterConfirmation", response.Headers.Location!.ToString());
        await using (var db = await DbAsync())
        {
            var zoe = await db.Users.SingleAsync(u => u.Email == "zoe@newco.test");
            Assert.False(zoe.EmailConfirmed);
            Assert.True(await db.Memberships.AnyAsync(m => m.UserId == zoe.Id && m.Organization.Slug == "acme"));
        }
        var confirmed = await client.GetAsync(await ConfirmationLinkAsync("zoe@newco.test"));
        Assert.Contains("ReturnUrl=orgs%2Facme%2Fmy-usage", confirmed.Headers.Location!.ToString());
    }

    private static async Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string page, string email, string password)
    {
        var form = await PortalFactory.FormFieldsAsync(client, page);
        form["Input.Email"] = email;
        form["Input.Password"] = password;
        return await client.PostAsync(page, new FormUrlEncodedContent(form));
    }

    [Fact]
    public async Task Registering_an_address_that_has_an_account_answers_the_same_and_tells_its_owner()
    {
        var client = _factory.CreateBrowserlessClient();
        var response = await RegisterAsync(client, "Impostor", "Impostor Co", "priya@acme.test");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains("/Account/RegisterConfirmation", response.Headers.Location!.ToString()); // as for a new address
        var page = await client.GetStringAsync(response.Headers.Location);
        Assert.Contains("We sent an e-mail to", page);
        await using var db = await DbAsync();
        Assert.False(await db.Organizations.AnyAsync(o => o.Name == "Impostor Co"));
        var note = await db.OutboxMessages.SingleAsync(m => m.To == "priya@acme.test" && m.Kind == "account-exists");
        Assert.Contains("already has one", note.TextBody);
        Assert.True((await PortalFactory.PostLoginAsync(_factory.CreateBrowserlessClient(), "priya@acme.test", "Demo123!")).StatusCode == HttpStatusCode.Redirect);
    }

    /// <summary>Posts the registration form as a person would fill it in.</summary>
    private static async Task<HttpResponseMessage> RegisterAsync(HttpClient client, string name, string organization, string email,
        string password = "Sturdy#Pass9")
    {
        var form = await PortalFactory.FormFieldsAsync(client, "/Account/Register");
        form["Input.DisplayName"] = name;
        form["Input.OrganizationName"] = organization;
        form["Input.Email"] = email;
        form["Input.Password"] = password;
        form["Input.ConfirmPassword"] = password;
        return await client.PostAsync("/Account/Register", new FormUrlEncodedContent(form));
    }

    /// <summary>The link of the e-mail with this subject, as delivered.</summary>
    private async Task<string> ConfirmationLinkAsync(string email, string subject = "Confirm your e-mail address")
    {
        var message = await _factory.DeliveredEmailAsync(email, subject);
        var link = System.Text.RegularExpressions.Regex.Match(message.TextBody ?? "", @"http\S+").Value;
        Assert.True(link.Length > 0, $"no link in: {message.TextBody}");
        await using var db = await DbAsync();
        Assert.All(await db.OutboxMessages.Where(m => m.To == email).ToListAsync(), m => Assert.DoesNotContain(link, m.TextBody + m.HtmlBody));
        return link;
    }

    [Fact]
    public async Task Resending_the_confirmation_mails_only_an_unconfirmed_account_and_answers_the_same_for_any_address()
    {
        var client = _factory.CreateBrowserlessClient();
        await RegisterAsync(client, "Omar Late", "Late Co", "omar@lateco.test");

        var answers = new List<string>();
        foreach (var address in new[] { "omar@lateco.test", "riley@acme.test", "nobody@nowhere.test" })
        {
            var resend = await PortalFactory.FormFieldsAsync(client, "/Account/ResendEmailConfirmation");
            resend["Input.Email"] = address;
            var page = await (await client.PostAsync("/Account/ResendEmailConfirmation", new FormUrlEncodedContent(resend))).Content.ReadAsStringAsync();
            answers.Add(System.Text.RegularExpressions.Regex.Match(page, "If an unconfirmed account[^<]*").Value);
        }

        Assert.Single(answers.Distinct());
        Assert.NotEqual("", answers[0]);
        await using var db = await DbAsync();
        static bool Confirmation(OutboxMessage m) => m.Subject.StartsWith("Confirm your e-mail address", StringComparison.Ordinal);
        var mails = (await db.OutboxMessages.ToListAsync()).Where(Confirmation).ToList();
        Assert.Equal(2, mails.Count(m => m.To == "omar@lateco.test")); // registration + resend
        Assert.DoesNotContain(mails, m => m.To is "riley@acme.test" or "nobody@nowhere.test");
    }

    [Theory]
    [InlineData("<style>body{display:none}</style>Eve")]
    [InlineData("Two\nlines")]
    [InlineData("Zero\u200Bwidth")]
    public async Task Registration_refuses_a_name_that_is_not_plain_text(string name)
    {
        var client = _factory.CreateBrowserlessClient();
        var response = await RegisterAsync(client, name, "Plain Co", "plain@newco.test");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Use letters, digits, spaces and punctuation only", System.Net.WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync()));
        await using var db = await DbAsync();
        Assert.False(await db.Users.AnyAsync(u => u.Email == "plain@newco.test"));
    }

    [Fact]
    public async Task Registration_refuses_a_password_shorter_than_8_characters()
    {
        var client = _factory.CreateBrowserlessClient();
        var response = await RegisterAsync(client, "Shorty", "Short Co", "short@newco.test", "Ab1!xyz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Use 8 to 100 characters.", await response.Content.ReadAsStringAsync());
        await using var db = await DbAsync();
        Assert.False(await db.Users.AnyAsync(u => u.Email == "short@newco.test"));
        Assert.False(await db.Organizations.AnyAsync(o => o.Name == "Short Co"));
    }

    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_and_the_sixth_attempt_is_refused()
    {
        var client = _factory.CreateBrowserlessClient();
        for (var i = 1; i <= 4; i++)
        {
            var wrong = await PortalFactory.PostLoginAsync(client, "priya@acme.test", "Wrong-password-1");
            Assert.Contains("Wrong email or password", await wrong.Content.ReadAsStringAsync());
        }
        var fifth = await PortalFactory.PostLoginAsync(client, "priya@acme.test", "Wrong-password-1");
        Assert.Contains("Account/Lockout", fifth.Headers.Location?.ToString() ?? "");
        // Even the right password is refused now: the account is locked.
        var sixth = await PortalFactory.PostLoginAsync(client, "priya@acme.test", "Demo123!");
        Assert.Equal(HttpStatusCode.Redirect, sixth.StatusCode);
        Assert.Contains("Account/Lockout", sixth.Headers.Location!.ToString());
        await using var db = await DbAsync();
        var user = await db.Users.SingleAsync(u => u.Email == "priya@acme.test");
        Assert.True(user.LockoutEnd > DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task A_wrong_password_shows_an_error_and_signs_nobody_in()
    {
        var client = _factory.CreateBrowserlessClient();
        var response = await PortalFactory.PostLoginAsync(client, "admin@acme.test", "not-the-password");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Wrong email or password", await response.Content.ReadAsStringAsync());
        var page = await client.GetAsync("/orgs/acme/settings");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
    }

    private async Task<PortalDbContext> DbAsync() =>
        await _factory.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _factory.DisposeAsync();
}
