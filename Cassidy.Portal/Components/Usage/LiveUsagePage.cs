using System.Globalization;
using Cassidy.Portal.Components.Shared;
using Cassidy.Portal.Usage;
using Cassidy.Portal.Organizations;
using Microsoft.AspNetCore.Components;

namespace Cassidy.Portal.Components.Usage;

/// <summary>
/// Base of the pages that show a usage report (Usage tab, a member's usage, My usage): loads the report for the chosen
/// range and keeps it live. Every few seconds it compares the ledger view's version (in memory, free to read) with the
/// one the report was loaded at, and asks again only when credits were recorded since — and then shares the load with
/// every other page asking the same (<see cref="UsageReport.LiveAsync"/>), so a hundred open tabs cost one query.
/// </summary>
public abstract class LiveUsagePage : OrgPage, IAsyncDisposable
{
    [Inject] protected UsageReport Report { get; set; } = default!;

    /// <summary>How often the page checks for new usage; new usage shows within this interval (plus the query).</summary>
    public static TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    protected UsagePeriods? Periods { get; private set; }
    protected UsageRange? Range { get; private set; }
    protected UsageReportData? Data { get; private set; }
    protected PlanMeters? Meters { get; private set; }
    /// <summary>Bumped when new usage arrived, so the settings header's balance reloads too.</summary>
    protected int ShellVersion { get; private set; }
    protected TimeZoneInfo Zone => Dates.Zone(Membership?.TimeZone ?? "UTC");

    private (long, long, DateTime)? _version;
    private PeriodicTimer? _timer;
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Whose usage this page shows. Never from user input for a member's own page.</summary>
    protected abstract UsageScope? ScopeOf(OrgMembership membership);

    /// <summary>Meeting hours of this member only (null: the organization's).</summary>
    protected virtual string? MeterUserId(OrgMembership membership) => null;

    /// <summary>Called after the report was reloaded (range change or new usage): reload grids.</summary>
    protected virtual Task AfterReloadAsync() => Task.CompletedTask;

    protected override async Task LoadAsync(OrgMembership membership) => await ReloadAsync(membership);

    private async Task ReloadAsync(OrgMembership membership)
    {
        if (ScopeOf(membership) is not { } scope) return;
        var live = await Report.LiveAsync(scope, Range, MeterUserId(membership), Zone);
        (_version, Periods, Range, Data, Meters) = (live.Version, live.Periods, live.Range, live.Data, live.Meters);
    }

    protected async Task ChangeRangeAsync(UsageRange range)
    {
        Range = range;
        await RunAsync(ReloadAsync);
        await AfterReloadAsync();
    }

    /// <summary>The range as the CSV exports take it.</summary>
    protected string RangeQuery => Range is null ? "" :
        $"from={Uri.EscapeDataString(Range.FromUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))}" +
        $"&to={Uri.EscapeDataString(Range.ToUtc.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture))}";

    protected override void OnAfterRender(bool firstRender)
    {
        // Only in the interactive circuit (never during prerendering): start watching for new usage.
        if (firstRender && _timer is null)
        {
            _timer = new PeriodicTimer(PollInterval);
            _ = WatchAsync(_timer, _stop.Token);
        }
    }

    private async Task WatchAsync(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (Membership is not { } membership || ScopeOf(membership) is not { } scope) continue;
                if (Equals(Report.Version(scope), _version)) continue;
                await InvokeAsync(async () =>
                {
                    await RunAsync(ReloadAsync);
                    ShellVersion++;
                    await AfterReloadAsync();
                    StateHasChanged();
                });
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            await DispatchExceptionAsync(e);
        }
    }

    public virtual ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _timer?.Dispose();
        _stop.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
