
namespace Cassidy.Portal.Billing;

/// <summary>One plan of the <c>Plans</c> configuration section.</summary>
public sealed class PlanDefinition
{
    public string Name { get; set; } = "";
    public long MonthlyCredits { get; set; }
    public int Members { get; set; }
    public int StorageGb { get; set; }
    public int MeetingHours { get; set; }
    public decimal PricePerMonthUsd { get; set; }
    public bool SelfServe { get; set; }

    public long MonthlyMillicredits => Credits.Millis(MonthlyCredits);
}

/// <summary>The plans from configuration, in ascending order of monthly credits.</summary>
public sealed class PlanCatalog
{
    public const string Enterprise = "Enterprise";

    public IReadOnlyList<PlanDefinition> All { get; }

    public PlanCatalog(IEnumerable<PlanDefinition> plans) =>
        All = plans.OrderBy(p => p.MonthlyCredits).ThenBy(p => p.Name, StringComparer.Ordinal).ToList();

    public static PlanCatalog FromConfiguration(IConfiguration configuration) =>
        new(configuration.GetSection("Plans").GetChildren().Select(section =>
        {
            var plan = section.Get<PlanDefinition>() ?? new PlanDefinition();
            plan.Name = section.Key;
            return plan;
        }));

    public PlanDefinition? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    public PlanDefinition Get(string name) => Find(name) ?? throw new InvalidOperationException($"Plan '{name}' is not configured.");

    /// <summary>An organization's monthly allowance: its plan's, or its Enterprise agreement's.</summary>
    public long MonthlyAllowanceMillicredits(string plan, long? enterpriseMonthlyCredits) =>
        string.Equals(plan, Enterprise, StringComparison.OrdinalIgnoreCase) && enterpriseMonthlyCredits is { } agreed
            ? Credits.Millis(agreed)
            : Get(plan).MonthlyMillicredits;
}
