using System.Security.Cryptography;
using System.Text;

namespace Cassidy.Portal.Webhooks;

/// <summary>
/// Signatures the Standard Webhooks way (standardwebhooks.com): the secret is <c>whsec_</c> + base64 of 32 random bytes; a
/// request carries <c>webhook-id</c> (the event id, the same on every retry), <c>webhook-timestamp</c> (Unix seconds of the
/// attempt) and <c>webhook-signature</c> = <c>v1,</c> + base64(HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")).
/// </summary>
public static class WebhookSignature
{
    public const string Prefix = "whsec_";

    public static string NewSecret() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string Sign(string secret, string id, long timestamp, string body)
    {
        var key = Convert.FromBase64String(secret.StartsWith(Prefix, StringComparison.Ordinal) ? secret[Prefix.Length..] : secret);
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
        return "v1," + Convert.ToBase64String(mac);
    }

    /// <summary>What a receiver does: true when one of the space-separated signatures matches (compared in constant time).</summary>
    public static bool Verify(string secret, string id, long timestamp, string body, string signatureHeader)
    {
        var expected = Encoding.ASCII.GetBytes(Sign(secret, id, timestamp, body));
        return signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Any(s => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(s), expected));
    }
}
