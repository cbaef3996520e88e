using System.Net;
using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Security;

/// <summary>The data-protection key ring lives in the database, so cookies and form tokens outlive the process.</summary>
public sealed class DataProtectionTests : IAsyncLifetime
{
    private readonly PortalFactory _first = new();
    private PortalFactory? _second, _elsewhere;

    [Fact]
    public async Task A_sign_in_and_a_form_token_issued_by_one_instance_are_accepted_by_another_on_the_same_database()
    {
        var cookies = new CookieContainer();
        var firstClient = _first.CreateBrowserlessClient(cookies);
        var signIn = await PortalFactory.PostLoginAsync(firstClient, "admin@acme.test", "Demo123!");
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        Assert.DoesNotContain("Account/Login", signIn.Headers.Location!.ToString());

        await using (var db = await _first.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync())
            Assert.NotEmpty(await db.DataProtectionKeys.ToListAsync());

        // A login form (antiforgery cookie and hidden token) rendered by the first instance, for an anonymous visitor.
        var visitorCookies = new CookieContainer();
        var form = await PortalFactory.FormFieldsAsync(_first.CreateBrowserlessClient(visitorCookies), "/Account/Login");

        // The "restarted" portal: a new process with its own in-memory key cache, on the same database.
        _second = _first.OnSameDatabase();
        var secondClient = _second.CreateBrowserlessClient(cookies);
        var page = await secondClient.GetAsync("/orgs/acme/settings");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Avery Admin", await page.Content.ReadAsStringAsync());

        form["Input.Email"] = "member@acme.test";
        form["Input.Password"] = "Demo123!";
        var visitor = _second.CreateBrowserlessClient(visitorCookies);
        var posted = await visitor.PostAsync("/Account/Login", new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.Redirect, posted.StatusCode);
        Assert.DoesNotContain("Account/Login", posted.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.OK, (await visitor.GetAsync("/orgs/acme/my-usage")).StatusCode);
    }

    [Fact]
    public async Task A_portal_on_another_database_has_other_keys_and_refuses_the_cookie()
    {
        // The control for the test above: it passes because of the shared database, not a machine-wide key folder.
        var cookies = new CookieContainer();
        var signIn = await PortalFactory.PostLoginAsync(_first.CreateBrowserlessClient(cookies), "admin@acme.test", "Demo123!");
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);

        _elsewhere = new PortalFactory();
        var page = await _elsewhere.CreateBrowserlessClient(cookies).GetAsync("/orgs/acme/settings");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/Account/Login", page.Headers.Location!.PathAndQuery);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_second is not null) await _second.DisposeAsync();
        if (_elsewhere is not null) await _elsewhere.DisposeAsync();
        await _first.DisposeAsync();
    }
}

/// <summary>With a configured certificate the keys are encrypted at rest; without one they are not (and a start warns).</summary>
public sealed class DataProtectionEncryptionTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_stored_keys_are_encrypted_exactly_when_a_certificate_is_configured(bool withCertificate)
    {
        await using var database = await TestDatabase.CreateAsync();
        var settings = new Dictionary<string, string?>();
        if (withCertificate)
        {
            using var rsa = System.Security.Cryptography.RSA.Create(2048);
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=cassidy-keys", rsa,
                System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
            var path = Path.Combine(database.Folder, "keys.pfx");
            await File.WriteAllBytesAsync(path, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx, "pfx-password"));
            settings["DataProtection:CertificatePath"] = path;
            settings["DataProtection:CertificatePassword"] = "pfx-password";
        }
        var services = new ServiceCollection().AddLogging();
        database.AddTo(services);
        services.AddPortalDataProtection(new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        await using var provider = services.BuildServiceProvider();

        var protector = provider.GetRequiredService<IDataProtectionProvider>().CreateProtector("test");
        Assert.Equal("secret", protector.Unprotect(protector.Protect("secret")));

        await using var db = database.CreateContext();
        var xml = (await db.DataProtectionKeys.SingleAsync()).Xml!;
        Assert.Equal(withCertificate, xml.Contains("EncryptedData", StringComparison.Ordinal));
        Assert.Equal(!withCertificate, xml.Contains("<masterKey", StringComparison.Ordinal) && xml.Contains("<value>", StringComparison.Ordinal));
    }
}
