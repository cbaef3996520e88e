using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace Cassidy.Portal.Api;

// The internal API's JSON shapes (SPEC §4), camelCase on the wire. Credits are decimal numbers with up to three
// decimals: millicredits / 1000. These types document the API (OpenAPI) and shape its responses.

[Description("A batch of 1 to 1000 usage events.")]
public sealed record UsageEventsRequest([property: Required] IReadOnlyList<UsageEventDto> Events);

[Description("One usage event. `id` is the idempotency key, unique per organization.")]
public sealed class UsageEventDto
{
    [Required, Description("Idempotency key, 1–128 characters.")] public string Id { get; init; } = "";
    [Description("model_call (default), meeting or storage.")] public string? Type { get; init; }
    [Required, Description("Organization slug.")] public string Organization { get; init; } = "";
    [Description("Member's email; not needed for storage.")] public string? User { get; init; }
    [Required, Description("ISO-8601 with offset, at most 5 minutes in the future.")] public DateTimeOffset OccurredAt { get; init; }
    [Description("agent_chat or workflow_run (model_call).")] public string? Feature { get; init; }
    [Description("A priced model (model_call), e.g. gpt-4.1.")] public string? Model { get; init; }
    [Description("≥ 0 (model_call).")] public long? InputTokens { get; init; }
    [Description("≥ 0, defaults to 0 (model_call).")] public long? KnowledgeTokens { get; init; }
    [Description("≥ 0 (model_call).")] public long? OutputTokens { get; init; }
    [Description("Capabilities used, e.g. web_search; default [].")] public IReadOnlyList<string>? Capabilities { get; init; }
    public string? AgentId { get; init; }
    public string? WorkflowId { get; init; }
    public string? RunId { get; init; }
    [Description("Settles the hold placed by authorize.")] public string? HoldId { get; init; }
    [Description("Meeting minutes, > 0 (meeting).")] public double? Minutes { get; init; }
    [Description("Bytes stored, ≥ 0 (storage).")] public long? Bytes { get; init; }
}

[Description("What became of each event, in request order.")]
public sealed record UsageEventsResponse(IReadOnlyList<UsageEventResultDto> Results, int Recorded, int Duplicates, int Rejected);

public sealed record UsageEventResultDto(
    string? Id,
    [property: Description("recorded, duplicate or rejected.")] string Status,
    [property: Description("Credits charged (duplicate: originally charged); null when rejected.")] decimal? Credits,
    [property: Description("validation, unknown_model, unknown_capability, unknown_organization, unknown_member or conflict.")] string? Error);

[Description("May this member use this feature now? With a model and token ceilings, a hold is placed for the estimate.")]
public sealed class AuthorizeRequest
{
    [Required, Description("Organization slug.")] public string? Organization { get; init; }
    [Required, Description("Member's email.")] public string? User { get; init; }
    [Required, Description("agent_chat or workflow_run.")] public string? Feature { get; init; }
    [Description("With a model, a hold for the estimated credits is placed.")] public string? Model { get; init; }
    public long? MaxInputTokens { get; init; }
    public long? MaxOutputTokens { get; init; }
}

public sealed record AuthorizeResponse(
    bool Allowed,
    [property: Description("ok, organization_out_of_credits or member_limit_reached.")] string Reason,
    decimal Balance,
    [property: Description("Balance minus active holds.")] decimal Available,
    [property: Description("The member's usage this billing period.")] decimal MemberUsed,
    [property: Description("The member's cap this period; null = unlimited.")] decimal? MemberCap,
    [property: Description("When the billing period ends (UTC).")] DateTime ResetsAt,
    [property: Description("Null when no hold was placed.")] string? HoldId,
    decimal? HeldCredits);

public sealed record BalanceResponse(decimal Balance, string Plan, DateTime PeriodStart, DateTime PeriodEnd, decimal Allowance, decimal Used);

