using Microsoft.Extensions.Options;
using MimeKit;

namespace Cassidy.Portal.Notifications;

/// <summary>
/// Writes each message as an <c>.eml</c> file into <c>Email:PickupDirectory</c> (for development, demos and
/// tests without a mail server). Named after the Message-Id, so a resend replaces the file instead of adding one.
/// </summary>
public sealed class PickupDirectoryEmailTransport(IOptions<EmailOptions> options) : IEmailTransport
{
    /// <summary>The pickup directory as an absolute path; a relative setting is taken from the current directory.</summary>
    public string FolderPath => Path.GetFullPath(options.Value.PickupDirectory);

    public async Task SendAsync(MimeMessage message, CancellationToken ct)
    {
        var folder = FolderPath;
        Directory.CreateDirectory(folder);
        var id = message.MessageId ?? MimeKit.Utils.MimeUtils.GenerateMessageId();
        var name = string.Concat(id.Split(Path.GetInvalidFileNameChars())) + ".eml";
        var final = Path.Combine(folder, name);
        // Written under a temporary name, then renamed: a reader never sees half a message.
        var temp = Path.Combine(folder, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = File.Create(temp))
            {
                await message.WriteToAsync(stream, ct);
                // On disk before the dispatcher records the message as sent.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, final, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
