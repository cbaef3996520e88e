using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Cassidy.Portal.Organizations;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Simulation;

// Operations that change settings, members and time zones, and the background ticks and reads (SimulationOperations.cs has the money).

/// <summary>An admin changes the default cap or one member's cap (SPEC §3.4).</summary>
internal sealed class CapOperation : SimOperation
{
    public override string Kind => UserId is null ? "default-cap" : "member-cap";
    public string? UserId { get; init; }
    public MemberCapMode Mode { get; init; }
    public long? Cap { get; init; }

    public override async Task RunAsync(SimulationRun run)
    {
        await using var db = await run.Process.Db.CreateDbContextAsync();
        if (UserId is null)
        {
            var version = await db.Organizations.Where(o => o.Id == Organization!.Id).Select(o => o.DefaultCapVersion).SingleAsync();
            await run.Process.Caps.SetDefaultAsync(Organization!.Id, run.OwnerOf(Organization), Cap, version);
        }
        else
        {
            var version = await db.Memberships.Where(m => m.OrganizationId == Organization!.Id && m.UserId == UserId)
                .Select(m => (int?)m.CapVersion).SingleOrDefaultAsync();
            if (version is null) return;
            await run.Process.Caps.SetMemberCapsAsync(Organization!.Id, run.OwnerOf(Organization), [new MemberCapEdit(UserId, version.Value)], Mode, Cap);
        }
    }

    public override void Completed(SimulationRun run) => run.SyncMembers();
}

/// <summary>Members come and go (SPEC §6 "membership is live"): invited, joined, removed, e-mail changed.</summary>
internal sealed class MembershipOperation : SimOperation
{
    public override string Kind => Change;
    public required string Change { get; init; }
    public required SimulationUser User { get; init; }

    public override async Task RunAsync(SimulationRun run)
    {
        var org = Organization;
        switch (Change)
        {
            case "invite":
                var invited = await run.Process.Members.InviteAsync(org!.Id, run.OwnerOf(org), User.Email, OrganizationRole.Member);
                if (invited.Link is { } link) run.Invitations.Add((org, User, link[(link.LastIndexOf('/') + 1)..]));
                break;
            case "join":
                var invitation = run.Invitations.FirstOrDefault(i => i.User == User && i.Organization == org);
                run.Invitations.Remove(invitation);
                if (invitation.Token is not null) await run.Process.Members.AcceptAsync(invitation.Token, User.Id);
                break;
            case "remove":
                await run.Process.Members.RemoveAsync(org!.Id, run.OwnerOf(org), User.Id);
                break;
            default: // "email": as the confirmation link of Manage/Email does it
                var user = await run.Process.Users.FindByIdAsync(User.Id);
                var email = $"{User.Id}.{run.NextNumber()}@sim.test";
                var token = await run.Process.Users.GenerateChangeEmailTokenAsync(user!, email);
                if ((await run.Process.Accounts.ChangeEmailAsync(user!, email, token)).Succeeded) User.Email = email;
                break;
        }
    }

    public override void Completed(SimulationRun run) => run.SyncMembers();

    public override string ToString() => $"{base.ToString()} {User.Email}";
}

/// <summary>An admin moves the organization to another time zone: its daily rollups are re-keyed.</summary>
internal sealed class TimeZoneOperation : SimOperation
{
    public override string Kind => "time-zone";
    public required string Zone { get; init; }

    public override Task RunAsync(SimulationRun run) =>
        run.Process.Settings.UpdateAsync(Organization!.Id, run.OwnerOf(Organization), Organization.Slug + " org", Zone);
}

/// <summary>
/// A step of rebuilding an organization's daily rollups after a time-zone change, as the background rebuilder takes them
/// (a writer item of its own, interleaved with everything else); the seed picks how many rows a step may take, so a
/// rebuild spans many transactions, restarts and crashes. Now and then the rebuilder's whole round instead.
/// </summary>
internal sealed class RebuildOperation : SimOperation
{
    public override string Kind => WholeRound ? "rebuild-round" : "rebuild-step";
    public required int MaxRows { get; init; }
    public bool WholeRound { get; init; }

    public override Task RunAsync(SimulationRun run) => WholeRound
        ? run.Process.Rebuilder.RunOnceAsync(maxRows: MaxRows)
        : run.Process.Ledger.RebuildDailyRollupsStepAsync(Organization!.Id, MaxRows);

    public override string ToString() => $"{base.ToString()} ({MaxRows} rows)";
}

/// <summary>The alert evaluator looks at an organization (it does after commits and on a timer).</summary>
internal sealed class AlertOperation : SimOperation
{
    public override string Kind => "alerts";

    public override Task RunAsync(SimulationRun run) => run.Process.Alerts.EvaluateAsync(Organization!.Id);

    public override void Completed(SimulationRun run)
    {
        if (run.IsAlone(this)) run.ExpectAlertsFired(Organization!);
    }
}

/// <summary>An admin changes an alert rule: its thresholds, whether it is on (SPEC §3.4).</summary>
internal sealed class AlertRuleOperation : SimOperation
{
    public override string Kind => "alert-rule";
    public required int Pick { get; init; }
    public required bool Enabled { get; init; }
    public required string Thresholds { get; init; }

    public override async Task RunAsync(SimulationRun run)
    {
        var rules = await run.Process.AlertRules.ListAsync(Organization!.Id);
        var rule = rules[Pick % rules.Count];
        var thresholds = rule.Kind == AlertKinds.OrgBalanceBelow ? Thresholds.Replace(",", "00,") + "00" : Thresholds;
        if (rule.Kind == AlertKinds.OrgProjectedRunout) thresholds = "0";
        await run.Process.AlertRules.SaveAsync(Organization.Id, run.OwnerOf(Organization), rule.Id,
            new AlertRuleInput(Enabled, thresholds, true, true, "", true, true));
    }
}

/// <summary>The background closer's tick: every organization's due periods, grants and holds; payments whose change never happened.</summary>
internal sealed class TickOperation : SimOperation
{
    public override string Kind => "tick";

    public override async Task RunAsync(SimulationRun run)
    {
        await run.Process.Ledger.CloseAllDuePeriodsAsync();
        await run.Process.Plans.VoidAbandonedPaymentsAsync();
    }

    public override void Completed(SimulationRun run) => run.LastTick = run.Now;
}

/// <summary>A page reads an organization's balance (closing what is due first), as the checks do before comparing.</summary>
internal sealed class ReadOperation : SimOperation
{
    public override string Kind => "read";

    public override Task RunAsync(SimulationRun run) => run.Process.Ledger.GetBalanceAsync(Organization!.Id);
}

/// <summary>A person of the simulation: their id never changes, their e-mail may.</summary>
internal sealed class SimulationUser(string id, string email)
{
    public string Id { get; } = id;
    public string Email { get; set; } = email;
    public override string ToString() => Email;
}
