namespace Cassidy.Portal.Api;

/// <summary>The AI runtime's API under <c>/internal/v1</c>: bearer keys, a rate limit per key, problem+json errors.</summary>
public static class InternalApi
{
    public static IServiceCollection AddInternalApi(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<IConfiguration>().GetSection(IngestOptions.Section).Get<IngestOptions>() ?? new IngestOptions());
        services.AddSingleton<IngestKeys>();
        services.AddSingleton<InternalApiGate>();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(options => options.SerializerOptions.TypeInfoResolverChain.Insert(0, InternalApiJson.Default));
        services.AddOpenApi(options => options.ShouldInclude = description =>
            description.RelativePath?.StartsWith("internal/v1", StringComparison.Ordinal) == true);
        return services;
    }

    public const string Prefix = "/internal/v1";

    /// <summary>
    /// Requests under <see cref="Prefix"/> leave the main pipeline here for a short one of their own: the gate (bearer
    /// key, then the per-key rate limit), routing, the endpoint. A branched pipeline has its own routing
    /// world, so the API's endpoints are mapped in it and nowhere else: no page can ever run in this branch (it has no
    /// cookie authentication nor authorization middleware), and no API endpoint in the main pipeline. UseEndpoints also
    /// registers them globally, so the OpenAPI document still describes them.
    /// </summary>
    public static void MapInternalApiBranch(this IApplicationBuilder app) =>
        app.MapWhen(context => context.Request.Path.StartsWithSegments(Prefix), api =>
        {
            var gate = api.ApplicationServices.GetRequiredService<InternalApiGate>();
            api.Use(gate.InvokeAsync);
            api.UseRouting();
            api.UseEndpoints(endpoints => endpoints.MapInternalApi());
        });

    private static void MapInternalApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Prefix)
            .WithTags("Internal API")
            .DisableAntiforgery()
            .AllowAnonymous(); // the gate's bearer key is the authentication; cookies open nothing here
        group.MapUsageEventsApi();
        group.MapAuthorizeApi();
    }
}

internal static class OpenApiBody
{
    /// <summary>
    /// Documents a JSON request body of type <typeparamref name="T"/>. (Accepts&lt;T&gt; would also make routing refuse
    /// other content types before the handler could answer them with the API's own 400 problem.)
    /// </summary>
    public static RouteHandlerBuilder JsonBody<T>(this RouteHandlerBuilder builder) =>
        builder.AddOpenApiOperationTransformer(async (operation, context, ct) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(T), null, ct);
            operation.RequestBody = new Microsoft.OpenApi.OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, Microsoft.OpenApi.OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
            };
        });
}
