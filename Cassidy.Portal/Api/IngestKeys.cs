using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Cassidy.Portal.Metering;
using Microsoft.AspNetCore.RateLimiting;

namespace Cassidy.Portal.Api;

/// <summary>
/// Bearer keys of the internal API (<c>Ingest:ApiKeys</c>). Keys and presented tokens are both hashed to SHA-256
/// first, so the comparison is constant-time and independent of lengths. Keys are never logged. The rate limiter and
/// the key filter both ask about every request, so the presented token is hashed once and the answer kept on the
/// request (<see cref="PresentedKey"/>).
/// </summary>
public sealed class IngestKeys(IngestOptions options)
{
    private readonly byte[][] _hashes = options.ApiKeys.Where(k => !string.IsNullOrEmpty(k)).Select(Hash).ToArray();
    private string[] Partitions => field ??= _hashes.Select(Convert.ToHexString).ToArray();

    public bool IsValid(HttpContext context) => Presented(context).KeyIndex >= 0;

    /// <summary>Rate-limit partition: a hash of the presented key (never the key itself).</summary>
    public string Partition(HttpContext context) => Presented(context) switch
    {
        { KeyIndex: >= 0 and var index } => Partitions[index],
        { Hash: { } hash } => Convert.ToHexString(hash),
        _ => "anonymous",
    };

    private PresentedKey Presented(HttpContext context)
    {
        if (context.Features.Get<PresentedKey>() is { } known) return known;
        var hash = BearerToken(context) is { } token ? Hash(token) : null;
        var index = -1;
        if (hash is not null)
            for (var i = 0; i < _hashes.Length; i++)
                if (CryptographicOperations.FixedTimeEquals(_hashes[i], hash)) index = i;
        var presented = new PresentedKey(hash, index);
        context.Features.Set(presented);
        return presented;
    }

    private static string? BearerToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    private static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));

    /// <summary>The presented token's hash (null without a bearer token) and the index of the key it matches, or -1.</summary>
    private sealed record PresentedKey(byte[]? Hash, int KeyIndex);
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
            var partition = context.RequestServices.GetRequiredService<IngestKeys>().Partition(context);
            return RateLimitPartition.GetFixedWindowLimiter(partition, _ => new FixedWindowRateLimiterOptions
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
