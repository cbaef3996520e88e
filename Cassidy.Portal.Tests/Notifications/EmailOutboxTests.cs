using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using MimeKit;
using static Cassidy.Portal.Tests.Notifications.EmailTestServices;

namespace Cassidy.Portal.Tests.Notifications;

/// <summary>Enqueueing in the caller's transaction, the database's guard against duplicates, and the pickup directory.</summary>
public sealed class EmailOutboxTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _clock = Clock();

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync();
    public async Task DisposeAsync() => await _database.DisposeAsync();

    private string MailFolder => Path.Combine(_database.Folder, "mail");

    private EmailTestServices WithPickupDirectory() => new(_database, _clock, new Dictionary<string, string?>
    {
        ["Email:From"] = "Cassidy <no-reply@cassidy.test>",
        ["Email:PickupDirectory"] = MailFolder,
        ["Email:Smtp:Host"] = "",
    });

    private async Task<int> OutboxCountAsync()
    {
        await using var db = _database.CreateContext();
        return await db.OutboxMessages.CountAsync();
    }

    [Fact]
    public async Task Without_an_smtp_host_each_message_becomes_an_eml_file_with_both_parts()
    {
        await using var email = WithPickupDirectory();
        Assert.IsType<PickupDirectoryEmailTransport>(email.Transport);
        var id = await email.EnqueueAsync(_database, Sample());

        Assert.Equal(1, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));

        var file = Assert.Single(Directory.GetFiles(MailFolder));
        Assert.EndsWith(".eml", file);
        Assert.Contains("Acme Labs used 80 % of its credits", await File.ReadAllTextAsync(file));
        var mail = await MimeMessage.LoadAsync(file);
        Assert.Equal($"outbox-{id}@cassidy.portal", mail.MessageId);
        Assert.Equal("ada@customer.test", mail.To.Mailboxes.Single().Address);
        Assert.IsType<MultipartAlternative>(mail.Body);
        Assert.Contains("16,000 of 20,000 credits", mail.TextBody);
        Assert.Contains("<b>16,000</b>", mail.HtmlBody);
    }

    [Fact]
    public async Task Writing_the_same_message_again_replaces_its_file()
    {
        await using var email = WithPickupDirectory();
        var row = new OutboxMessage { Id = 42, To = "ada@customer.test", Subject = "Once", TextBody = "t", HtmlBody = "<p>h</p>", CreatedAt = _clock.GetUtcNow().UtcDateTime };
        var message = OutboxDispatcher.Compose(row, MailboxAddress.Parse("no-reply@cassidy.test"));

        await email.Transport.SendAsync(message, CancellationToken.None);
        await email.Transport.SendAsync(message, CancellationToken.None);

        Assert.Equal(Path.Combine(MailFolder, "outbox-42@cassidy.portal.eml"), Assert.Single(Directory.GetFiles(MailFolder)));
    }

    [Fact]
    public async Task An_enqueued_message_rolls_back_with_the_callers_transaction()
    {
        await using var email = WithPickupDirectory();

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var db = _database.CreateContext();
            await using var transaction = await db.Database.BeginTransactionAsync();
            db.Organizations.Add(new Organization { Slug = "acme", Name = "Acme Labs", CreatedAt = _clock.GetUtcNow().UtcDateTime });
            email.Outbox.Enqueue(db, Sample());
            await db.SaveChangesAsync();
            throw new InvalidOperationException("The alert could not be recorded.");
        });
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var db = _database.CreateContext();
            email.Outbox.Enqueue(db, Sample());
            throw new InvalidOperationException("Failed before saving.");
        });

        Assert.Equal(0, await OutboxCountAsync());
        await using var check = _database.CreateContext();
        Assert.False(await check.Organizations.AnyAsync(o => o.Slug == "acme"));
        Assert.Equal(0, await email.Dispatcher.DispatchDueAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_database_refuses_a_second_message_with_the_same_correlation_key()
    {
        await using var email = WithPickupDirectory();
        await email.EnqueueAsync(_database, Sample(key: "alert:123:ada@customer.test"));

        var refused = await Assert.ThrowsAsync<DbUpdateException>(() =>
            email.EnqueueAsync(_database, Sample(key: "alert:123:ada@customer.test")));

        Assert.Equal(19, Assert.IsType<SqliteException>(refused.InnerException).SqliteErrorCode); // SQLITE_CONSTRAINT
        // Messages without a key are never considered duplicates.
        await email.EnqueueAsync(_database, Sample());
        await email.EnqueueAsync(_database, Sample());
        Assert.Equal(3, await OutboxCountAsync());
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("ada@customer.test, bob@customer.test")]
    [InlineData("")]
    public async Task Enqueue_accepts_exactly_one_address(string to)
    {
        await using var email = WithPickupDirectory();
        await using var db = _database.CreateContext();

        Assert.Throws<ArgumentException>(() => email.Outbox.Enqueue(db, Sample(to: to)));
    }
}
