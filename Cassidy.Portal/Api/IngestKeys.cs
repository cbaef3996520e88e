using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Cassidy.Portal.Metering;
using Microsoft.AspNetCore.RateLimiting;

namespace Cassidy.Portal.Api;

/// <summary>
/// Bearer keys of the internal API (<c>Ingest:ApiKeys</c>). Keys and presented tokens are both hashed to SHA-256
/// first, so the comparison is constant-time and independent of lengths. Keys are never logged.
/// </summary>
public sealed class IngestKeys(IngestOptions options)
{
    private readonly byte[][] _hashes = options.ApiKeys.Where(k => !string.IsNullOrEmpty(k)).Select(Hash).ToArray();

    public bool IsValid(HttpContext context)
    {
        if (BearerToken(context) is not { } token) return false;
        var presented = Hash(token);
        var match = false;
        foreach (var key in _hashes) match |= CryptographicOperations.FixedTimeEquals(key, presented);
        return match;
    }

    public static string? BearerToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    private static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));

    /// <summary>Rate-limit partition: a hash of the presented key (never the key itself).</summary>
    public static string Partition(HttpContext context) =>
        BearerToken(context) is { } token ? Convert.ToHexString(Hash(token)) : "anonymous";
}

/// <summary>401 problem+json unless the request carries a configured key. Cookies never open these endpoints.</summary>
public sealed class ApiKeyFilter(IngestKeys keys) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (keys.IsValid(context.HttpContext)) return await next(context);
        context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            detail: "A valid API key is required: Authorization: Bearer <key>.");
    }
}

public static class IngestRateLimit
{
    public const string Policy = "ingest";

    /// <summary>A fixed one-second window per key, <c>Ingest:RateLimitPerSecond</c> requests; beyond it 429 with Retry-After.</summary>
    public static void Add(RateLimiterOptions options)
    {
        options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        options.AddPolicy(Policy, context =>
        {
            var limit = Math.Max(1, context.RequestServices.GetRequiredService<IngestOptions>().RateLimitPerSecond);
            return RateLimitPartition.GetFixedWindowLimiter(IngestKeys.Partition(context), _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = limit, Window = TimeSpan.FromSeconds(1), QueueLimit = 0, AutoReplenishment = true,
            });
        });
        options.OnRejected = async (rejected, ct) =>
        {
            var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
            var response = rejected.HttpContext.Response;
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                detail: $"More than the allowed requests per second for this key; retry after {seconds} s.").ExecuteAsync(rejected.HttpContext);
        };
    }
}
