using System.Net;
using System.Text.RegularExpressions;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Tests.Notifications;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using netDumbster.smtp;

namespace Cassidy.Portal.Tests.Security;

/// <summary>
/// Issue 12: "Forgot your password?" sends a real e-mail (through the outbox and SMTP), whose link sets a new password once,
/// and the pages answer the same whether or not an address has an account.
/// </summary>
public sealed class AccountEmailTests : IAsyncLifetime
{
    private readonly int _port = EmailTestServices.FreePort();
    private SimpleSmtpServer _smtp = null!;
    private PortalFactory _factory = null!;

    public Task InitializeAsync()
    {
        _smtp = SimpleSmtpServer.Start(_port);
        _factory = new PortalFactory().With("Email:Smtp:Host", "127.0.0.1").With("Email:Smtp:Port", _port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Task.CompletedTask;
    }

    private async Task<HttpResponseMessage> PostAsync(HttpClient client, string page, Dictionary<string, string> fields)
    {
        var form = await PortalFactory.FormFieldsAsync(client, page);
        foreach (var (name, value) in fields) form[name] = value;
        return await client.PostAsync(page, new FormUrlEncodedContent(form));
    }

    [Fact]
    public async Task A_forgotten_password_is_reset_through_the_emailed_link_once()
    {
        var client = _factory.CreateBrowserlessClient();

        var asked = await PostAsync(client, "/Account/ForgotPassword", new() { ["Input.Email"] = "riley@acme.test" });
        var unknown = await PostAsync(client, "/Account/ForgotPassword", new() { ["Input.Email"] = "nobody@nowhere.test" });

        // The same answer for an address with an account and one without.
        Assert.Equal(asked.Headers.Location, unknown.Headers.Location);
        Assert.Contains("ForgotPasswordConfirmation", asked.Headers.Location!.ToString());
        var mail = await ReceivedAsync("riley@acme.test", "Reset your Cassidy password");
        Assert.DoesNotContain(Received(), m => m.To.Mailboxes.Any(t => t.Address == "nobody@nowhere.test"));
        var link = Regex.Match(mail.TextBody ?? "", @"http\S+").Value;
        Assert.Contains("/Account/ResetPassword?code=", link);

        var path = new Uri(link).PathAndQuery;
        var reset = await PostAsync(client, path, new()
        {
            ["Input.Email"] = "riley@acme.test", ["Input.Password"] = "Fresh#Start42", ["Input.ConfirmPassword"] = "Fresh#Start42",
        });
        Assert.Contains("ResetPasswordConfirmation", reset.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.Redirect, (await PortalFactory.PostLoginAsync(_factory.CreateBrowserlessClient(), "riley@acme.test", "Fresh#Start42")).StatusCode);
        var old = await PortalFactory.PostLoginAsync(_factory.CreateBrowserlessClient(), "riley@acme.test", "Demo123!");
        Assert.Contains("Wrong email or password", await old.Content.ReadAsStringAsync());

        // The link has done its work: a second use is refused and the password stays.
        var again = await PostAsync(client, path, new()
        {
            ["Input.Email"] = "riley@acme.test", ["Input.Password"] = "Another#Try42", ["Input.ConfirmPassword"] = "Another#Try42",
        });
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Contains("This link doesn&#x27;t work for that address", await again.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Redirect, (await PortalFactory.PostLoginAsync(_factory.CreateBrowserlessClient(), "riley@acme.test", "Fresh#Start42")).StatusCode);
    }

    [Fact]
    public async Task A_forged_host_header_does_not_change_where_the_reset_link_points()
    {
        var client = _factory.CreateBrowserlessClient();
        client.DefaultRequestHeaders.Host = "evil.test";

        await PostAsync(client, "/Account/ForgotPassword", new() { ["Input.Email"] = "riley@acme.test" });

        var mail = await ReceivedAsync("riley@acme.test", "Reset your Cassidy password");
        var link = Regex.Match(mail.TextBody ?? "", @"http\S+").Value;
        Assert.StartsWith(_factory.Services.GetRequiredService<IConfiguration>()["Portal:BaseUrl"]!.TrimEnd('/') + "/Account/ResetPassword?code=", link);
        Assert.DoesNotContain("evil.test", mail.TextBody + mail.HtmlBody);
    }

    [Fact]
    public async Task A_reset_answers_the_same_for_an_unknown_address_as_for_a_known_one_with_a_wrong_code()
    {
        var client = _factory.CreateBrowserlessClient();
        async Task<string> ResetAsync(string email)
        {
            var response = await PostAsync(client, "/Account/ResetPassword?code=Ym9ndXM", new()
            {
                ["Input.Email"] = email, ["Input.Password"] = "Fresh#Start42", ["Input.ConfirmPassword"] = "Fresh#Start42",
            });
            return $"{(int)response.StatusCode} {Regex.Match(await response.Content.ReadAsStringAsync(), "Error: [^<]*").Value}";
        }

        var known = await ResetAsync("riley@acme.test");
        var unknown = await ResetAsync("nobody@nowhere.test");

        Assert.StartsWith("200 Error: This link doesn", known);
        Assert.Equal(known, unknown);
    }

    /// <summary>What the SMTP server has received so far.</summary>
    private List<MimeKit.MimeMessage> Received()
    {
        while (true)
        {
            try
            {
                return _smtp.ReceivedEmail.Select(EmailTestServices.Parse).ToList();
            }
            catch (IndexOutOfRangeException)
            {
                // netDumbster's list is not safe to read while a message arrives (the demo data sends alerts): read again.
            }
        }
    }

    /// <summary>The message to <paramref name="to"/> with this subject, once the SMTP server has it (the demo data sends alerts too).</summary>
    private async Task<MimeKit.MimeMessage> ReceivedAsync(string to, string subject)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var found = Received().FirstOrDefault(m => m.Subject == subject && m.To.Mailboxes.Any(t => t.Address == to));
            if (found is not null) return found;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No '{subject}' to {to}.");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        _smtp.Dispose();
    }
}
