using System.Text.Json;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cassidy.Portal.Api;

/// <summary><c>POST /internal/v1/authorize</c>, <c>DELETE /internal/v1/holds/{id}</c>, <c>GET .../organizations/{slug}/balance</c>.</summary>
public static class AuthorizeApi
{
    public static RouteGroupBuilder MapAuthorizeApi(this RouteGroupBuilder group)
    {
        group.MapPost("/authorize", AuthorizeAsync)
            .WithName("Authorize")
            .WithSummary("May this member run this feature now? With model and token ceilings, reserves the estimate as a hold.")
            .JsonBody<AuthorizeRequest>();
        group.MapDelete("/holds/{holdId}", ReleaseAsync)
            .WithName("ReleaseHold")
            .WithSummary("Releases a hold whose call never ran.");
        group.MapGet("/organizations/{slug}/balance", BalanceAsync)
            .WithName("GetBalance")
            .WithSummary("The organization's balance, plan, current period, allowance and usage this period.");
        return group;
    }

    public static async Task<Results<Ok<AuthorizeResponse>, ValidationProblem, ProblemHttpResult>> AuthorizeAsync(
        HttpRequest request, CreditLedger ledger)
    {
        AuthorizeRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, InternalApiJson.Default.AuthorizeRequest, request.HttpContext.RequestAborted);
        }
        catch (JsonException ex)
        {
            var field = ex.Path is { Length: > 2 } path ? path[2..] : "body";
            return Invalid(new() { [field] = ["This field is not valid JSON of the expected type."] });
        }
        if (body is null) return Invalid(new() { ["body"] = ["The body must be a JSON object."] });

        if (Errors(body) is { } errors) return Invalid(errors);

        var outcome = await ledger.AuthorizeAsync(new AuthorizeInput(body.Organization!, body.User!, body.Feature!, body.Model,
            body.MaxInputTokens, body.MaxOutputTokens));
        if (outcome.InvalidField is { } invalid) return Invalid(new() { [invalid] = ["Unknown model: it is not in the price table."] });
        if (outcome.NotFound is { } missing)
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found",
                detail: missing == "organization" ? "No organization has this slug." : "This user is not a member of the organization.");
        var d = outcome.Decision!;
        return TypedResults.Ok(new AuthorizeResponse(d.Allowed, d.Reason, Credits.Of(d.Balance), Credits.Of(d.Available),
            Credits.Of(d.MemberUsed), Credits.Of(d.MemberCap), d.ResetsAt, d.HoldId, Credits.Of(d.Held)));
    }

    /// <summary>The body's invalid fields, or null (no dictionary for the usual valid request).</summary>
    private static Dictionary<string, string[]>? Errors(AuthorizeRequest body)
    {
        Dictionary<string, string[]>? errors = null;
        void Add(string field, string message) => (errors ??= [])[field] = [message];
        if (string.IsNullOrWhiteSpace(body.Organization)) Add("organization", "The organization (slug) is required.");
        if (string.IsNullOrWhiteSpace(body.User)) Add("user", "The user (member's email) is required.");
        if (body.Feature is not (Features.AgentChat or Features.WorkflowRun)) Add("feature", "feature must be agent_chat or workflow_run.");
        if (body.MaxInputTokens is < 0 or > PreparedUsage.MaxTokens) Add("maxInputTokens", "Must be an integer from 0 to 10^9.");
        if (body.MaxOutputTokens is < 0 or > PreparedUsage.MaxTokens) Add("maxOutputTokens", "Must be an integer from 0 to 10^9.");
        if (body.Model is null && (body.MaxInputTokens is not null || body.MaxOutputTokens is not null))
            Add("model", "A model is required with token ceilings.");
        return errors;
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> ReleaseAsync(string holdId, CreditLedger ledger) =>
        holdId.Length <= 64 && await ledger.ReleaseHoldAsync(holdId)
            ? TypedResults.NoContent()
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No active hold has this id.");

    public static async Task<Results<Ok<BalanceResponse>, ProblemHttpResult>> BalanceAsync(string slug, CreditLedger ledger)
    {
        var balance = await ledger.GetBalanceAsync(slug);
        if (balance is null)
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No organization has this slug.");
        return TypedResults.Ok(new BalanceResponse(Credits.Of(balance.Balance), balance.Plan, balance.PeriodStart, balance.PeriodEnd,
            Credits.Of(balance.Allowance), Credits.Of(balance.Used)));
    }

    private static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The authorize request is not valid.");
}
