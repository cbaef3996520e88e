using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cassidy.Portal.Api;

/// <summary>
/// Source-generated JSON for the internal API's bodies (camelCase, as <see cref="JsonSerializerDefaults.Web"/>): the
/// runtime calls authorize and ingest thousands of times a second, and generated metadata spares each call the
/// reflection-based serializer's lookups. Put first in the minimal APIs' resolver chain (<see cref="InternalApi"/>);
/// other types still fall through to reflection.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(AuthorizeRequest))]
[JsonSerializable(typeof(AuthorizeResponse))]
[JsonSerializable(typeof(UsageEventsResponse))]
[JsonSerializable(typeof(BalanceResponse))]
internal sealed partial class InternalApiJson : JsonSerializerContext;
