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
        "Cassidy.Portal.Ledger", "Cassidy.Portal.Pricing", "Cassidy.Portal.Billing", "Cassidy.Portal.Limits", "Cassidy.Portal.Usage",
        "Cassidy.Portal.Organizations", "Cassidy.Portal.Notifications", "Cassidy.Portal.Webhooks", "Cassidy.Portal.Data",
        "Cassidy.Portal.Exports", "Cassidy.Portal.Api", "Cassidy.Portal.Demo", "Cassidy.Portal.Simulation",
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

    [Fact]
    public void Pricing_stands_alone()
    {
        // A price is a function of the event and the configuration: nothing of the ledger, plans, limits or people.
        var result = Types.InAssembly(Portal).That().ResideInNamespace("Cassidy.Portal.Pricing")
            .ShouldNot().HaveDependencyOnAny("Cassidy.Portal.Ledger", "Cassidy.Portal.Billing", "Cassidy.Portal.Limits",
                "Cassidy.Portal.Usage", "Cassidy.Portal.Organizations", "Cassidy.Portal.Notifications", "Cassidy.Portal.Webhooks",
                "Cassidy.Portal.Data", "Microsoft.EntityFrameworkCore")
            .GetResult();
        Assert.True(result.IsSuccessful, $"Pricing uses another room: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void The_ledger_knows_nothing_of_what_reads_or_reacts_to_it()
    {
        // Limits, usage reports, notifications and webhooks hang off the ledger (they read it or hear its commits); the
        // writer never waits for them, so it must not call them.
        var result = Types.InAssembly(Portal).That().ResideInNamespace("Cassidy.Portal.Ledger")
            .ShouldNot().HaveDependencyOnAny("Cassidy.Portal.Limits", "Cassidy.Portal.Usage", "Cassidy.Portal.Organizations",
                "Cassidy.Portal.Notifications", "Cassidy.Portal.Webhooks", "Cassidy.Portal.Api", "Cassidy.Portal.Simulation",
                "Cassidy.Portal.Demo")
            .GetResult();
        Assert.True(result.IsSuccessful, $"The ledger uses a room above it: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }
}
