using System.Security.Cryptography;
using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Cassidy.Portal.Pricing;
using Cassidy.Portal.Organizations;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Simulation;

/// <summary>The run's next operation, drawn by the seed: usage, authorize, grants, packages, upgrades, membership changes.</summary>
internal sealed partial class SimulationRun
{
    /// <summary>How far the organization's daily rollups are rebuilt (null: not being rebuilt), as the database says now.</summary>
    private DateTime? RebuildPoint(ModelOrganization org)
    {
        using var c = Open();
        return Scalar(c, "SELECT DailyRollupsBuiltBefore FROM CreditAccounts WHERE OrganizationId = $org", org.Id) is string at
            ? SqliteStatement.ParseDateTime(at) : null;
    }

    private static DateTime Min(DateTime a, DateTime b) => a < b ? a : b;

    private SimOperation NextOperation()
    {
        var orgs = Model.Organizations.Values.ToList();
        var org = orgs[Random.Next(orgs.Count)];
        var roll = Random.Next(100);
        if (_retries.Count > 0 && roll < 4)
        {
            var events = _retries[0];
            _retries.RemoveAt(0);
            return new IngestOperation { Organization = org, Events = events }; // the runtime retries what it never got an answer for
        }
        switch (roll)
        {
            case < 34: return new IngestOperation { Organization = org, Events = Enumerable.Range(0, 1 + Random.Next(6)).Select(_ => NewEvent(org)).ToList() };
            case < 56: return NewAuthorize(org);
            case < 61:
                var holds = Model.Organizations.Values.SelectMany(o => o.Holds.Keys).ToList();
                return new ReleaseOperation { Organization = org, HoldId = holds.Count > 0 && Random.Next(6) > 0 ? holds[Random.Next(holds.Count)] : "hold_unknown" };
            case < 64: return NewPackage(org);
            case < 66: return NewAdjustment(org);
            case < 70: return NewUpgrade(org);
            case < 72:
                var lower = _plans.All.Where(p => p.SelfServe && p.MonthlyCredits * 1000 < org.Allowance).Select(p => p.Name).ToList();
                return new DowngradeOperation { Organization = org, ToPlan = lower.Count > 0 && Random.Next(3) > 0 ? lower[Random.Next(lower.Count)] : null };
            case < 74: return new AgreementOperation { Organization = org, MonthlyCredits = 2_000 + Random.Next(60) * 1_000, RolloverPercent = Random.Next(5) * 25 };
            case < 76: return new CapOperation { Organization = org, Cap = Random.Next(3) == 0 ? null : Random.Next(0, 4_000) * 1000L };
            case < 79:
                var member = org.Members.Values.ElementAtOrDefault(Random.Next(Math.Max(1, org.Members.Count)));
                return new CapOperation
                {
                    Organization = org, UserId = member?.UserId ?? Users[0].Id, Mode = (MemberCapMode)Random.Next(3), Cap = Random.Next(0, 3_000) * 1000L,
                };
            case < 86: return NewMembershipChange(org);
            case < 87: return new TimeZoneOperation { Organization = org, Zone = Zones[Random.Next(Zones.Length)] };
            case < 90: return new AlertOperation { Organization = org };
            case < 91:
                return new AlertRuleOperation
                {
                    Organization = org, Pick = Random.Next(4), Enabled = Random.Next(4) > 0,
                    Thresholds = string.Join(",", Enumerable.Range(0, 1 + Random.Next(3)).Select(_ => 5 + Random.Next(120)).Distinct().Order()),
                };
            case < 93: return new TickOperation();
            case < 97: return new RebuildOperation { Organization = org, MaxRows = 1 + Random.Next(12), WholeRound = Random.Next(12) == 0 };
            default: return new IngestOperation { Organization = org, Events = [NewEvent(org), NewEvent(org)] };
        }
    }

    /// <summary>
    /// A staff adjustment; the most negative draws drain the organization past zero instead (no extra draw, so seeds keep
    /// their sequence), so running out of credits and getting them back is exercised too.
    /// </summary>
    private GrantOperation NewAdjustment(ModelOrganization org)
    {
        var credits = Random.Next(8) == 0 ? 0 : Random.Next(-1500, 2500);
        if (credits < -1300) credits = -(int)Math.Min(org.Balance / 1000 + 1 - credits / 100, 100_000_000);
        return new GrantOperation { Organization = org, Package = false, Credits = credits };
    }

    private GrantOperation NewPackage(ModelOrganization org)
    {
        var credits = Random.Next(10) switch { 0 => -5m, 1 => 1.2345m, _ => Random.Next(1, 3_000) };
        DateTime? expires = Random.Next(10) switch { < 5 => null, 5 => Now.AddDays(-1), _ => Now.AddDays(1 + Random.Next(20)).AddMinutes(Random.Next(1440)) };
        return new GrantOperation { Organization = org, Package = true, Credits = credits, ExpiresAt = expires };
    }

    private UpgradeOperation NewUpgrade(ModelOrganization org)
    {
        var higher = _plans.All.Where(p => p.SelfServe && p.MonthlyCredits * 1000 > org.Allowance).Select(p => p.Name).ToList();
        var plan = higher.Count > 0 && Random.Next(5) > 0 ? higher[Random.Next(higher.Count)] : _plans.All[Random.Next(_plans.All.Count)].Name;
        var upgrade = new UpgradeOperation { Organization = org, ToPlan = plan };
        if (Random.Next(3) == 0 && _inFlight.Count + 1 < _options.Callers)
        {
            // Two admins with their own quotes at the same moment, or one quote confirmed twice (two tabs, a double click).
            Start(upgrade);
            return Random.Next(2) == 0 ? new UpgradeOperation { Organization = org, ToPlan = plan } : new UpgradeOperation { Organization = org, ToPlan = plan, SameQuoteAs = upgrade };
        }
        return upgrade;
    }

    private SimOperation NewMembershipChange(ModelOrganization org)
    {
        var memberIds = org.Members.Values.Select(m => m.UserId).ToHashSet();
        var outsiders = Users.Where(u => !memberIds.Contains(u.Id)).ToList();
        var members = Users.Where(u => memberIds.Contains(u.Id) && u != _owners[org.Id]).ToList();
        var pending = Invitations.Where(i => i.Organization == org).ToList();
        return Random.Next(4) switch
        {
            0 when outsiders.Count > 0 => new MembershipOperation { Organization = org, Change = "invite", User = outsiders[Random.Next(outsiders.Count)] },
            1 when pending.Count > 0 => new MembershipOperation { Organization = org, Change = "join", User = pending[Random.Next(pending.Count)].User },
            2 when members.Count > 0 => new MembershipOperation { Organization = org, Change = "remove", User = members[Random.Next(members.Count)] },
            // A person's e-mail is theirs, not one organization's: the change concerns every organization they are in.
            _ when members.Count > 0 => new MembershipOperation { Organization = null, Change = "email", User = members[Random.Next(members.Count)] },
            _ => new AlertOperation { Organization = org },
        };
    }

    private AuthorizeOperation NewAuthorize(ModelOrganization org)
    {
        var slug = Random.Next(40) == 0 ? "nope" : org.Slug;
        var user = UserFor(org);
        string? model = null;
        long? input = null, output = null;
        if (Random.Next(10) < 6)
        {
            model = Random.Next(30) == 0 ? "gpt-9" : ModelNames[Random.Next(ModelNames.Length)];
            input = Random.Next(0, 60_000);
            output = Random.Next(0, 10_000);
        }
        var feature = Random.Next(3) == 0 ? Features.WorkflowRun : Features.AgentChat;
        return new AuthorizeOperation { Organization = slug == org.Slug ? org : null, Input = new AuthorizeInput(slug, user, feature, model, input, output) };
    }

    /// <summary>Mostly a member's current e-mail; sometimes someone who is not (or no longer) a member.</summary>
    private string UserFor(ModelOrganization org)
    {
        var members = org.Members.Values.ToList();
        if (members.Count > 0 && Random.Next(10) < 8)
            return Users.FirstOrDefault(u => u.Id == members[Random.Next(members.Count)].UserId)?.Email ?? "ghost@sim.test";
        return Random.Next(3) == 0 ? $"ghost{Random.Next(5)}@sim.test" : Users[Random.Next(Users.Count)].Email;
    }

    private UsageEventInput NewEvent(ModelOrganization org)
    {
        var roll = Random.Next(100);
        if (roll < 6 && _sent.Count > 0) return _sent[Random.Next(_sent.Count)]; // a replay
        if (roll < 9 && _sent.Count > 0)
        {
            var original = _sent[Random.Next(_sent.Count)];
            return original.Type switch // the same id, other content
            {
                UsageTypes.Meeting => original with { Minutes = original.Minutes + 1 },
                UsageTypes.Storage => original with { Bytes = original.Bytes + 1 },
                _ => original with { OutputTokens = original.OutputTokens + 1 },
            };
        }
        var id = $"e{NextNumber()}";
        var at = Random.Next(10) switch
        {
            0 => Now,
            1 => Now.AddMinutes(4),
            // While the organization's daily rollups are rebuilt, calls on either side of the hour the rebuild has reached.
            2 when RebuildPoint(org) is { } point && point > DateTime.MinValue => Min(point.AddMinutes(Random.Next(-90, 90)), Now),
            _ => Now.AddMinutes(-Random.Next(0, 72 * 60)).AddSeconds(-Random.Next(60)),
        };
        var e = new UsageEventInput
        {
            Id = id, Organization = Random.Next(40) == 0 ? "nope" : org.Slug, User = UserFor(org), OccurredAt = new DateTimeOffset(at),
            Feature = Random.Next(4) == 0 ? Features.WorkflowRun : Features.AgentChat, Model = ModelNames[Random.Next(ModelNames.Length)],
            InputTokens = Random.Next(0, 40_000), KnowledgeTokens = Random.Next(3) == 0 ? Random.Next(0, 10_000) : null,
            OutputTokens = Random.Next(0, 8_000), Capabilities = Random.Next(5) == 0 ? ["web_search"] : null,
            AgentId = Random.Next(2) == 0 ? "agent-" + Random.Next(3) : null, RunId = Random.Next(3) == 0 ? "run-" + Random.Next(20) : null,
        };
        switch (roll)
        {
            case < 14:
                e = Random.Next(6) switch
                {
                    0 => e with { Id = "" },
                    1 => e with { Id = new string('x', 129) },
                    2 => e with { InputTokens = -1 },
                    3 => e with { User = null },
                    4 => e with { OccurredAt = new DateTimeOffset(Now.AddMinutes(10)) },
                    _ => e with { Feature = "chat" },
                };
                break;
            case < 17: e = Random.Next(2) == 0 ? e with { Model = "gpt-9" } : e with { Capabilities = ["telepathy"] }; break;
            case < 19: e = e with { Type = UsageTypes.Meeting, Model = null, Feature = null, Minutes = 1 + Random.Next(90) }; break;
            case < 21: e = e with { Type = UsageTypes.Storage, Model = null, Feature = null, User = null, Bytes = Random.Next(1, 1 << 30) }; break;
            case < 27:
                var holds = Model.Organizations.Values.SelectMany(o => o.Holds.Values.Select(h => (Org: o, Hold: h))).ToList();
                if (holds.Count > 0)
                {
                    var (holder, hold) = holds[Random.Next(holds.Count)];
                    var email = Users.FirstOrDefault(u => u.Id == hold.UserId)?.Email ?? e.User;
                    e = e with { Organization = holder.Slug, User = email, HoldId = hold.Id };
                }
                break;
        }
        if (ReferenceModel.InvalidField(e, Now) is null) _sent.Add(e);
        return e;
    }
}
