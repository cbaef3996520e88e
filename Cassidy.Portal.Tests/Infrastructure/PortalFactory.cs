using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>
/// The real portal in-process, on its own SQLite file (migrated and filled with the demo data on start).
/// </summary>
public class PortalFactory : WebApplicationFactory<Program>
{
    public string DataFolder { get; }
    private readonly bool _ownsDataFolder;
    private readonly Dictionary<string, string?> _settings = new()
    {
        // The tests sign in many times a minute from one address; the per-client limits are the subject of their own tests.
        ["AbuseLimits:SignInPerMinute"] = "100000",
        ["AbuseLimits:RegisterPerTenMinutes"] = "100000",
        ["AbuseLimits:PasswordResetPerTenMinutes"] = "100000",
        ["AbuseLimits:InvitationPerMinute"] = "100000",
    };
    private string? _environment;

    public PortalFactory() : this(null) { }

    private PortalFactory(string? dataFolder)
    {
        _ownsDataFolder = dataFolder is null;
        DataFolder = dataFolder ?? Path.Combine(Path.GetTempPath(), "cassidy-tests", Guid.NewGuid().ToString("N"));
    }

    /// <summary>
    /// Another instance of the portal on this one's data folder and database, as after a restart or beside it on a
    /// second server. The folder stays with (and is deleted by) this factory.
    /// </summary>
    public PortalFactory OnSameDatabase() => new(DataFolder);

    public PortalFactory With(string key, string? value)
    {
        _settings[key] = value;
        return this;
    }

    /// <summary>Runs the portal as an installation would (Production, Staging) instead of the factory's Development.</summary>
    public PortalFactory InEnvironment(string environment)
    {
        _environment = environment;
        return this;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        Directory.CreateDirectory(DataFolder);
        if (_environment is not null) builder.UseEnvironment(_environment);
        builder.UseSetting("ConnectionStrings:Portal", $"Data Source={Path.Combine(DataFolder, "portal.db")}");
        builder.UseSetting("Email:PickupDirectory", Path.Combine(DataFolder, "mail"));
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
    }

    /// <summary>
    /// The e-mail the portal delivered to <paramref name="to"/> (its .eml in the pickup directory) whose subject contains
    /// <paramref name="subject"/>, once the outbox dispatcher has sent it.
    /// </summary>
    public async Task<MimeKit.MimeMessage> DeliveredEmailAsync(string to, string subject)
    {
        var folder = Path.Combine(DataFolder, "mail");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            if (Directory.Exists(folder))
                foreach (var file in Directory.GetFiles(folder, "*.eml"))
                {
                    var message = await MimeKit.MimeMessage.LoadAsync(file);
                    if (message.To.Mailboxes.Any(m => string.Equals(m.Address, to, StringComparison.OrdinalIgnoreCase))
                        && (message.Subject ?? "").Contains(subject, StringComparison.Ordinal))
                        return message;
                }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No e-mail '{subject}' to {to} was delivered.");
            await Task.Delay(100);
        }
    }

    public HttpClient CreateBrowserlessClient() =>
        CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>A client without redirects on the given cookie jar, which clients of other instances may share.</summary>
    public HttpClient CreateBrowserlessClient(CookieContainer cookies) => CreateDefaultClient(new CookieContainerHandler(cookies));

    /// <summary>Signs in through the real login form (antiforgery token and all) and returns the cookie-carrying client.</summary>
    public async Task<HttpClient> SignInAsync(string email, string password = "Demo123!")
    {
        var client = CreateBrowserlessClient();
        var response = await PostLoginAsync(client, email, password);
        if (response.StatusCode != HttpStatusCode.Redirect || response.Headers.Location?.ToString().Contains("Account/Login", StringComparison.Ordinal) == true)
            throw new InvalidOperationException($"Sign-in as {email} failed: {(int)response.StatusCode} {response.Headers.Location}");
        return client;
    }

    public static async Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string email, string password)
    {
        var form = await FormFieldsAsync(client, "/Account/Login");
        form["Input.Email"] = email;
        form["Input.Password"] = password;
        return await client.PostAsync("/Account/Login", new FormUrlEncodedContent(form));
    }

    /// <summary>The hidden fields (antiforgery token, handler name) of the first form on a static page.</summary>
    public static async Task<Dictionary<string, string>> FormFieldsAsync(HttpClient client, string path)
    {
        var html = await client.GetStringAsync(path);
        var fields = new Dictionary<string, string>();
        foreach (Match m in Regex.Matches(html, "<input[^>]*type=\"hidden\"[^>]*>"))
        {
            var name = Regex.Match(m.Value, "name=\"([^\"]+)\"").Groups[1].Value;
            var value = Regex.Match(m.Value, "value=\"([^\"]*)\"").Groups[1].Value;
            if (name.Length > 0 && !fields.ContainsKey(name)) fields[name] = WebUtility.HtmlDecode(value);
        }
        return fields;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        SqliteConnection.ClearAllPools();
        if (_ownsDataFolder)
            try { Directory.Delete(DataFolder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
