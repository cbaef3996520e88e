namespace Cassidy.Portal.Notifications;

/// <summary>The <c>Email</c> configuration section.</summary>
public sealed class EmailOptions
{
    public const string Section = "Email";

    /// <summary>Sender, e.g. <c>Cassidy &lt;no-reply@example.com&gt;</c>.</summary>
    public string From { get; set; } = "Cassidy <no-reply@cassidy.test>";

    /// <summary>Where <c>.eml</c> files go when no SMTP host is set; relative to the current directory.</summary>
    public string PickupDirectory { get; set; } = "data/mail";

    /// <summary>How often the dispatcher looks for due messages when nobody wakes it.</summary>
    public double PollSeconds { get; set; } = 5;

    /// <summary>How long a sent message's text stays in the outbox as a record before it is cleared.</summary>
    public int KeepSentDays { get; set; } = 30;

    public SmtpOptions Smtp { get; set; } = new();

    public sealed class SmtpOptions
    {
        /// <summary>Empty: no SMTP, messages go to <see cref="PickupDirectory"/>.</summary>
        public string Host { get; set; } = "";
        public int Port { get; set; } = 25;
        public string UserName { get; set; } = "";
        public string Password { get; set; } = "";
        public bool UseStartTls { get; set; }
    }
}
