using Cassidy.Portal.Ledger;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cassidy.Portal.Api;

/// <summary><c>POST /internal/v1/usage-events</c>: a thin adapter from JSON to <see cref="CreditLedger.RecordUsageAsync"/>.</summary>
public static class UsageEventsApi
{
    public const int MaxEvents = 1000;

    public static RouteGroupBuilder MapUsageEventsApi(this RouteGroupBuilder group)
    {
        group.MapPost("/usage-events", RecordAsync)
            .WithName("RecordUsageEvents")
            .WithSummary("Record usage events (1–1000). Each is recorded once per organization and id; a 200 means committed.")
            .JsonBody<UsageEventsRequest>();
        return group;
    }

    public static async Task<Results<Ok<UsageEventsResponse>, ValidationProblem>> RecordAsync(HttpRequest request, CreditLedger ledger)
    {
        var batch = await UsageEventsBody.ReadAsync(request.BodyReader, request.HttpContext.RequestAborted);
        if (batch.InvalidField is { } field) return Invalid(field, batch.Message!);
        var results = await ledger.RecordUsageAsync(batch.Events);

        var dtos = new UsageEventResultDto[results.Count];
        int recorded = 0, duplicates = 0, rejected = 0;
        for (var i = 0; i < results.Count; i++)
        {
            var r = results[i];
            dtos[i] = new UsageEventResultDto(r.Id, r.Status, Credits.Of(r.CreditsMillicredits), r.Error);
            switch (r.Status)
            {
                case UsageStatuses.Recorded: recorded++; break;
                case UsageStatuses.Duplicate: duplicates++; break;
                default: rejected++; break;
            }
        }
        return TypedResults.Ok(new UsageEventsResponse(dtos, recorded, duplicates, rejected));
    }

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] },
            title: "The request body is not a valid batch of usage events.");
}
