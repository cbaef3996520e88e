using MimeKit;

namespace Cassidy.Portal.Notifications;

/// <summary>Hands a finished message to the outside world; throws when it was not accepted.</summary>
public interface IEmailTransport
{
    Task SendAsync(MimeMessage message, CancellationToken ct);
}
