using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Cassidy.Portal.Tests.Notifications;

/// <summary>The portal's own registrations (<see cref="PortalSetup.AddPortal"/>) and the shipped appsettings.json, without starting the app.</summary>
public sealed class EmailSetupTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync();
    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task The_portal_runs_the_dispatcher_and_without_an_smtp_host_writes_to_the_pickup_directory()
    {
        var folder = Path.Combine(_database.Folder, "mail");
        var builder = WebApplication.CreateBuilder();
        builder.AddPortal();
        builder.Configuration["ConnectionStrings:Portal"] = _database.ConnectionString;
        builder.Configuration["Email:PickupDirectory"] = folder;
        await using var app = builder.Build();
        var services = app.Services;

        Assert.Contains(services.GetServices<IHostedService>(), s => s is OutboxDispatcher);
        Assert.Equal(5, services.GetRequiredService<IOptions<EmailOptions>>().Value.PollSeconds);
        Assert.IsType<PickupDirectoryEmailTransport>(services.GetRequiredService<IEmailTransport>());

        await using (var db = await services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync())
        {
            services.GetRequiredService<EmailOutbox>().Enqueue(db, EmailTestServices.Sample());
            await db.SaveChangesAsync();
        }
        Assert.Equal(1, await services.GetRequiredService<OutboxDispatcher>().DispatchDueAsync(CancellationToken.None));

        var mail = await MimeMessage.LoadAsync(Assert.Single(Directory.GetFiles(folder, "*.eml")));
        Assert.Equal("Acme Labs used 80 % of its credits", mail.Subject);
        Assert.Equal("no-reply@cassidy.test", mail.From.Mailboxes.Single().Address);
    }

    [Theory]
    [InlineData("587", "false", false)]
    [InlineData("587", "true", true)]
    [InlineData("465", "false", true)]
    public void Logging_in_to_an_smtp_server_needs_tls(string port, string startTls, bool accepted)
    {
        var builder = WebApplication.CreateBuilder();
        builder.AddPortal();
        builder.Configuration["ConnectionStrings:Portal"] = _database.ConnectionString;
        builder.Configuration["Email:Smtp:Host"] = "smtp.example.com";
        builder.Configuration["Email:Smtp:Port"] = port;
        builder.Configuration["Email:Smtp:UseStartTls"] = startTls;
        builder.Configuration["Email:Smtp:UserName"] = "portal";
        builder.Configuration["Email:Smtp:Password"] = "secret";
        using var app = builder.Build();

        var read = Record.Exception(() => app.Services.GetRequiredService<IOptions<EmailOptions>>().Value);

        if (accepted) Assert.Null(read);
        else Assert.Contains("not encrypted", Assert.IsType<OptionsValidationException>(read).Message);
    }
}
