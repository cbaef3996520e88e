using System.Net;
using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Webhooks;

/// <summary>Which URLs a channel may call: the form rules, and the address check made as each connection opens.</summary>
public sealed class WebhookAddressTests
{
    private static readonly WebhookAddress Production = new(allowHttp: false, allowPrivateNetworks: false);

    [Theory]
    [InlineData("http://hooks.example.com/x", "https://")]
    [InlineData("ftp://hooks.example.com/x", "full http(s) URL")]
    [InlineData("hooks.example.com/x", "full http(s) URL")]
    [InlineData("", "Enter the URL")]
    [InlineData("https://user:pass@hooks.example.com/x", "passwords")]
    [InlineData("https://127.0.0.1/x", "private network")]
    [InlineData("https://localhost:8443/x", "private network")]
    [InlineData("https://[::1]/x", "private network")]
    [InlineData("https://10.1.2.3/x", "private network")]
    [InlineData("https://172.20.0.1/x", "private network")]
    [InlineData("https://192.168.1.10/x", "private network")]
    [InlineData("https://169.254.169.254/latest/meta-data", "private network")]
    [InlineData("https://100.64.0.1/x", "private network")]
    [InlineData("https://[fd00::1]/x", "private network")]
    [InlineData("https://[fe80::1]/x", "private network")]
    [InlineData("https://[::ffff:10.0.0.1]/x", "private network")]
    [InlineData("https://0.0.0.0/x", "private network")]
    public void Production_refuses_with_a_message_for_the_field(string url, string says) =>
        Assert.Contains(says, Production.CheckForm(url));

    [Theory]
    [InlineData("https://hooks.example.com/cassidy")]
    [InlineData("https://hooks.slack.com/services/T000/B000/XXXX")]
    [InlineData("https://93.184.215.14:8443/hook")]
    public void Production_accepts_public_https(string url) => Assert.Null(Production.CheckForm(url));

    [Fact]
    public void Development_rules_allow_loopback_over_http() =>
        Assert.Null(new WebhookAddress(true, true).CheckForm("http://127.0.0.1:5009/hook"));

    [Fact]
    public void Outside_development_the_defaults_are_strict_and_development_loosens_them()
    {
        var config = new ConfigurationBuilder().Build();
        var production = WebhookAddress.From(config, new TestEnvironment("Production"));
        Assert.False(production.AllowHttp);
        Assert.False(production.AllowPrivateNetworks);
        var development = WebhookAddress.From(config, new TestEnvironment("Development"));
        Assert.True(development.AllowHttp && development.AllowPrivateNetworks);
    }

    [Fact]
    public async Task A_host_resolving_to_a_private_address_is_refused_when_saved()
    {
        // This machine's own name resolves to loopback or its private address, like an internal host would.
        var host = Dns.GetHostName();
        Assert.All(await Dns.GetHostAddressesAsync(host), a => Assert.True(WebhookAddress.IsInternal(a), $"{host} resolves to {a}"));
        Assert.Contains("resolves to a private network address", await new WebhookAddress(true, false).CheckAsync($"http://{host}:8080/x"));
        Assert.Contains("could not be found", await Production.CheckAsync("https://no-such-host.invalid/x"));
    }

    [Theory]
    [InlineData("8.8.8.8", false)]
    [InlineData("2606:4700::1111", false)]
    [InlineData("127.0.0.2", true)]
    [InlineData("::", true)]
    [InlineData("224.0.0.1", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("192.0.0.8", true)]
    [InlineData("172.32.0.1", false)]
    public void Internal_addresses(string ip, bool isInternal) => Assert.Equal(isInternal, WebhookAddress.IsInternal(IPAddress.Parse(ip)));

    /// <summary>
    /// The check that counts is made as the connection opens: a URL already saved (or one whose DNS changed since) that now
    /// leads into a private network is not called, and the attempt says why.
    /// </summary>
    [Fact]
    public async Task A_delivery_into_a_private_network_is_not_made_even_when_the_url_is_already_saved()
    {
        await using var h = await AlertHarness.CreateAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var created = await h.Channels.CreateAsync(h.OrgId, AlertHarness.Admin,
            new ChannelInput(ChannelKinds.Webhook, receiver.Url, "", [WebhookEvents.AlertSubscription(AlertKinds.OrgAllowancePercent)]));
        await h.SpendAsync("e1", 11_000);
        await h.Evaluator.EvaluateAsync(h.OrgId);

        // The same database served by a portal with production rules (http allowed to reach the local receiver's port).
        var strict = new WebhookAddress(allowHttp: true, allowPrivateNetworks: false);
        await using var services = AlertHarness.BuildServices(h.Ledger);
        var dispatcher = ActivatorUtilities.CreateInstance<WebhookDispatcher>(services, strict);
        Assert.Equal(1, await dispatcher.DispatchDueAsync(default));
        Assert.Empty(receiver.Received);
        await using var db = h.Ledger.Db.CreateContext();
        var attempt = await db.WebhookAttempts.SingleAsync();
        Assert.Null(attempt.StatusCode);
        Assert.Contains("private network", attempt.Excerpt);
        Assert.NotNull(created.Id);
    }

    private sealed class TestEnvironment(string name) : Microsoft.Extensions.Hosting.IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;
        public string ApplicationName { get; set; } = "Cassidy.Portal";
        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = null!;
    }
}
