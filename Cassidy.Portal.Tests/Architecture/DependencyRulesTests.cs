using System.Reflection;
using NetArchTest.Rules;

namespace Cassidy.Portal.Tests.Architecture;

/// <summary>
/// The house rules the build enforces (STYLE.md): the engine knows nothing of Blazor, and pages know nothing of SQL. A type
/// that breaks one is named in the failure.
/// </summary>
public sealed class DependencyRulesTests
{
    private static readonly Assembly Portal = typeof(Program).Assembly;

    /// <summary>The rooms that hold the product's rules and data: usable from a page, a job, an API or the simulation alike.</summary>
    public static TheoryData<string> EngineRooms() =>
    [
        "Cassidy.Portal.Metering", "Cassidy.Portal.Organizations", "Cassidy.Portal.Notifications", "Cassidy.Portal.Webhooks",
        "Cassidy.Portal.Data", "Cassidy.Portal.Exports", "Cassidy.Portal.Api", "Cassidy.Portal.Demo", "Cassidy.Portal.Simulation",
    ];

    [Theory]
    [MemberData(nameof(EngineRooms))]
    public void The_engine_knows_nothing_of_Blazor(string room)
    {
        var result = Types.InAssembly(Portal).That().ResideInNamespace(room)
            .ShouldNot().HaveDependencyOnAny("Cassidy.Portal.Components", "MudBlazor", "Microsoft.AspNetCore.Components")
            .GetResult();
        Assert.True(result.IsSuccessful, $"{room} uses the UI: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void Pages_know_nothing_of_SQL()
    {
        var result = Types.InAssembly(Portal).That().ResideInNamespace("Cassidy.Portal.Components")
            .ShouldNot().HaveDependencyOnAny("Microsoft.EntityFrameworkCore", "Microsoft.Data.Sqlite")
            .GetResult();
        Assert.True(result.IsSuccessful, $"Pages run queries: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }
}
