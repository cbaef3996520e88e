using System.Security.Cryptography;
using System.Text;

namespace Cassidy.Portal.Api;

/// <summary>
/// Bearer keys of the internal API (<c>Ingest:ApiKeys</c>). Keys and presented tokens are both hashed to SHA-256
/// first, so the comparison is constant-time and independent of lengths. Keys are never logged.
/// </summary>
public sealed class IngestKeys(IngestOptions options)
{
    private readonly byte[][] _hashes = options.ApiKeys.Where(k => !string.IsNullOrEmpty(k)).Select(Hash).ToArray();

    public int Count => _hashes.Length;

    /// <summary>Which configured key the request presents, or -1 (no bearer token, or an unknown one).</summary>
    public int KeyIndex(HttpContext context)
    {
        if (BearerToken(context) is not { } token) return -1;
        var hash = Hash(token);
        var index = -1;
        for (var i = 0; i < _hashes.Length; i++)
            if (CryptographicOperations.FixedTimeEquals(_hashes[i], hash)) index = i;
        return index;
    }

    private static string? BearerToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    private static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));
}

/// <summary>
/// The internal API's door, first in its pipeline branch: 401 problem+json unless the request carries a configured
/// key (cookies open nothing here), then a fixed one-second window of <c>Ingest:RateLimitPerSecond</c> requests per
/// key, beyond which 429 problem+json with Retry-After. Only configured keys get past the first check, so each has one
/// counter, checked under its own lock: cheaper than ASP.NET's partitioned limiter (a string partition, a factory
/// closure and a lease per request) and than an endpoint filter (an invocation context per request) — authorize must
/// stay within 0.7x of a bare endpoint.
/// </summary>
public sealed class InternalApiGate(IngestKeys keys, IngestOptions options)
{
    private readonly Window[] _windows = Enumerable.Range(0, keys.Count).Select(_ => new Window()).ToArray();

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var key = keys.KeyIndex(context);
        if (key < 0)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: "A valid API key is required: Authorization: Bearer <key>.").ExecuteAsync(context);
        }
        if (_windows[key].TryEnter(Math.Max(1, options.RateLimitPerSecond), out var retryAfter)) return next(context);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
            detail: $"More than the allowed requests per second for this key; retry after {seconds} s.").ExecuteAsync(context);
    }

    /// <summary>One key's requests in the current second (of the monotonic clock).</summary>
    private sealed class Window
    {
        private readonly Lock _gate = new();
        private long _second = -1;
        private int _count;

        public bool TryEnter(int limit, out TimeSpan retryAfter)
        {
            var now = Environment.TickCount64;
            lock (_gate)
            {
                if (now / 1000 != _second)
                {
                    _second = now / 1000;
                    _count = 0;
                }
                retryAfter = TimeSpan.FromMilliseconds(1000 - now % 1000);
                return ++_count <= limit;
            }
        }
    }
}
