using System.Security.Cryptography;
using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Metering;
using Cassidy.Portal.Organizations;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Simulation;

/// <summary>The simulation's clock: it moves only when the simulation moves it.</summary>
internal sealed class SimulationClock(DateTime start) : TimeProvider
{
    public DateTime Now { get; set; } = start;
    public override DateTimeOffset GetUtcNow() => new(Now, TimeSpan.Zero);
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}

/// <summary>
/// One seeded run: three organizations on one SQLite file, several simulated callers in flight at once, the writer's
/// transactions formed by the seed, time jumping across periods and DST, restarts, crashes and faults injected; the
/// engine, the reference model and the database compared after every commit and every time the run comes to rest.
/// </summary>
internal sealed class SimulationRun : IAsyncDisposable
{
    public static readonly TimeSpan QuoteLifetime = PlanChanges.QuoteLifetime;
    private static readonly string[] Zones = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"];
    private static readonly string[] ModelNames = ["gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4.5", "claude-haiku-4.5", "gemini-2.5-flash"];

    private readonly SimulationOptions _options;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "cassidy-simulation", Guid.NewGuid().ToString("N"));
    private readonly IConfiguration _configuration;
    private readonly SimulationScheduler _scheduler;
    private readonly SimulationHooks _hooks;
    private readonly PlanCatalog _plans;
    private readonly List<SimOperation> _inFlight = [];
    private readonly HashSet<long> _committedItems = [];
    private readonly Dictionary<int, long> _commits = new();
    private readonly Dictionary<int, int> _started = new();
    private readonly HashSet<string> _durableHolds = new(StringComparer.Ordinal);
    private readonly List<UsageEventInput> _sent = [];
    private readonly List<List<UsageEventInput>> _retries = [];
    private readonly Queue<string> _recent = new();
    private readonly List<string> _trace = [];
    private readonly Dictionary<int, SimulationUser> _owners = new();
    private int _numbers;

    public Random Random { get; }
    public SimulationClock Clock { get; }
    public DateTime Now => Clock.Now;
    public ReferenceModel Model { get; }
    public SimulationProcess Process { get; private set; } = null!;
    public SimulationReport Report { get; }
    public int Step { get; private set; }
    public TimeSpan HoldLifetime { get; }
    public List<SimulationUser> Users { get; } = [];
    public AuditActor Staff { get; } = new("staff", "Simulated Staff");
    public List<(ModelOrganization Organization, SimulationUser User, string Token)> Invitations { get; } = [];
    public long StrictAuthorizations { get => Report.StrictAuthorizations; set => Report.StrictAuthorizations = value; }
    public DateTime LastTick { get; set; }

    public SimulationRun(SimulationOptions options, Thread thread)
    {
        _options = options;
        Random = new Random(options.Seed);
        Report = new SimulationReport { Seed = options.Seed };
        Directory.CreateDirectory(_folder);
        _configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: false)
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Portal"] = $"Data Source={Path.Combine(_folder, "portal.db")}",
                ["Email:PickupDirectory"] = Path.Combine(_folder, "mail"),
            })
            .Build();
        var prices = _configuration.GetSection(MeteringOptions.Section).Get<MeteringOptions>()!;
        _plans = PlanCatalog.FromConfiguration(_configuration);
        HoldLifetime = TimeSpan.FromSeconds(prices.HoldSeconds);
        Model = new ReferenceModel(prices, _plans);
        Clock = new SimulationClock(new DateTime(2026, 2, 25, 12, 0, 0, DateTimeKind.Utc));
        _scheduler = new SimulationScheduler(thread);
        _hooks = new SimulationHooks(OnCommitted);
    }

    public int NextNumber() => ++_numbers;

    // ---- the run ---------------------------------------------------------------------------------------------------

    public void Run()
    {
        SynchronizationContext.SetSynchronizationContext(_scheduler);
        Setup();
        var started = DateTime.UtcNow;
        for (Step = 1; Step <= _options.Steps && (_options.Duration is not { } d || DateTime.UtcNow - started < d); Step++)
        {
            Act();
            Collect();
        }
        Note("end: settle and check everything");
        Quiesce();
        FullCheck();
        Report.Steps = Step - 1;
        Report.Digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', _trace))))[..16];
        if (_scheduler.ForeignPosts > 0)
            throw Violation($"{_scheduler.ForeignPosts} continuations arrived from other threads: the run is not deterministic");
    }

    private void Setup()
    {
        Drive(SimulationProcess.MigrateAsync(_configuration));
        Process = new SimulationProcess(_configuration, Clock, _hooks);
        Drive(CreateUsersAsync());
        var alpha = CreateOrganization("alpha", "Team", new DateTime(2025, 10, 31, 23, 30, 0, DateTimeKind.Utc), [1, 2, 3], 0);
        var beta = CreateOrganization("beta", "Free", new DateTime(2026, 1, 15, 9, 0, 0, DateTimeKind.Utc), [5], 4);
        var gamma = CreateOrganization("gamma", "Team", new DateTime(2025, 12, 1, 0, 0, 0, DateTimeKind.Utc), [7], 6);
        SyncMembers();
        RunOperation(new TimeZoneOperation { Organization = alpha, Zone = "America/New_York" });
        RunOperation(new TimeZoneOperation { Organization = beta, Zone = "Europe/Berlin" });
        RunOperation(new TimeZoneOperation { Organization = gamma, Zone = "Asia/Kolkata" });
        RunOperation(new AgreementOperation { Organization = gamma, MonthlyCredits = 5_000, RolloverPercent = 50 });
        FullCheck();
    }

    private async Task CreateUsersAsync()
    {
        await using var db = await Process.Db.CreateDbContextAsync();
        for (var i = 0; i < 12; i++)
        {
            var email = $"u{i}@sim.test";
            var user = new ApplicationUser
            {
                Id = $"user-{i}", UserName = email, NormalizedUserName = email.ToUpperInvariant(), Email = email,
                NormalizedEmail = email.ToUpperInvariant(), EmailConfirmed = true, DisplayName = $"User {i}", SecurityStamp = Guid.NewGuid().ToString(),
            };
            db.Users.Add(user);
            Users.Add(new SimulationUser(user.Id, email));
        }
        await db.SaveChangesAsync();
    }

    private ModelOrganization CreateOrganization(string slug, string plan, DateTime anchor, int[] members, int owner)
    {
        var created = Drive(Process.Signup.CreateForOwnerAsync(Users[owner].Id, slug, plan, anchor, slug));
        Drive(AddMembersAsync(created.Id, members));
        var org = new ModelOrganization { Id = created.Id, Slug = slug, Anchor = anchor, Plan = plan };
        org.Open(Model);
        Model.Organizations[slug] = org;
        _owners[org.Id] = Users[owner];
        return org;
    }

    private async Task AddMembersAsync(int organizationId, int[] members)
    {
        await using var db = await Process.Db.CreateDbContextAsync();
        foreach (var i in members)
            db.Memberships.Add(new Membership { OrganizationId = organizationId, UserId = Users[i].Id, Role = OrganizationRole.Member, JoinedAt = Now });
        await db.SaveChangesAsync();
    }

    public AuditActor OwnerOf(ModelOrganization org) => new(_owners[org.Id].Id, "Owner of " + org.Slug);

    /// <summary>One step: start a caller, let one continue, form a transaction, break something, or come to rest.</summary>
    private void Act()
    {
        var roll = Random.Next(100);
        if (roll < 2 && !_hooks.IsArmed && _options.Faults)
        {
            ArmFault();
            return;
        }
        if (roll < 9)
        {
            AtRest();
            return;
        }
        var canStart = _inFlight.Count < _options.Callers;
        var ready = _scheduler.Ready > 0;
        var queued = Process.Writer.Queued > 0;
        var pick = Random.Next((canStart ? 40 : 0) + (ready ? 35 : 0) + (queued ? 25 : 0) + 1);
        if (canStart && (pick -= 40) < 0) Start(NextOperation());
        else if (ready && (pick -= 35) < 0) _scheduler.RunOne(Random);
        else if (queued) Pump();
        else if (canStart) Start(NextOperation());
    }

    private void ArmFault()
    {
        WriterPoint[] points = [WriterPoint.Open, WriterPoint.Begin, WriterPoint.Statement, WriterPoint.BeforeCommit, WriterPoint.AfterCommit, WriterPoint.Publish];
        var point = points[Random.Next(points.Length)];
        var skip = Random.Next(3);
        if (Random.Next(2) == 0)
        {
            _hooks.ArmCrash(point, skip);
            Note($"armed: crash at {point} (after {skip} passes)");
        }
        else
        {
            if (point == WriterPoint.Open) _hooks.ArmFault(point, 0); // only a process that opens anew passes here: restart it
            else _hooks.ArmFault(point, skip);
            Note($"armed: fault at {point}");
            if (point == WriterPoint.Open) Restart(graceful: true);
        }
    }

    /// <summary>Everything in flight finishes, then time passes or the process restarts; then everything is compared.</summary>
    private void AtRest()
    {
        Quiesce();
        switch (Random.Next(20))
        {
            case < 9: AdvanceTime(); break;
            case < 11: Restart(graceful: true); break;
            case < 12 when _options.Faults:
                _hooks.ArmCrash(WriterPoint.Open, 0); // a crash while opening, after a restart
                Note("armed: crash while opening");
                Restart(graceful: true);
                break;
        }
        FullCheck();
    }

    private void AdvanceTime()
    {
        var before = Now;
        switch (Random.Next(6))
        {
            case 0: Clock.Now += TimeSpan.FromMinutes(1 + Random.Next(20)); break;
            case 1: Clock.Now += TimeSpan.FromHours(1 + Random.Next(30)); break;
            case 2: Clock.Now += TimeSpan.FromDays(1 + Random.Next(6)) + TimeSpan.FromMinutes(Random.Next(600)); break;
            case 3: Clock.Now += TimeSpan.FromDays(35 + Random.Next(70)); break;
            default:
                // Onto a period end of one organization: just before it, exactly on it, or just after.
                var org = Model.Organizations.Values.ElementAt(Random.Next(Model.Organizations.Count));
                var end = BillingPeriods.Containing(org.Anchor, Now).End;
                var at = end + TimeSpan.FromMilliseconds(new[] { -60_000, -1, 0, 0, 1, 60_000 }[Random.Next(6)]);
                if (at > Now) Clock.Now = at;
                break;
        }
        Note($"time: {before:yyyy-MM-dd HH:mm:ss.fff} → {Now:yyyy-MM-dd HH:mm:ss.fff}");
        Report.TimeAdvances++;
    }

    private void Restart(bool graceful)
    {
        if (graceful) Quiesce();
        Note(graceful ? "restart" : "crash: the process is gone");
        try { Drive(Process.DisposeAsync().AsTask()); }
        catch (Exception) when (!graceful) { /* a dead process's disposal may fail: the connection closes regardless */ }
        Process = new SimulationProcess(_configuration, Clock, _hooks);
        Report.Restarts++;
    }

    /// <summary>Runs everything in flight to its end: continuations and transactions, in an order the seed picks.</summary>
    private void Quiesce()
    {
        var guard = 0;
        Collect();
        while (_inFlight.Count > 0 || _scheduler.Ready > 0 || Process.Writer.Queued > 0)
        {
            if (++guard > 200_000) throw Violation("the run does not come to rest");
            if (_scheduler.Ready > 0 && (Process.Writer.Queued == 0 || Random.Next(2) == 0)) _scheduler.RunOne(Random);
            else if (Process.Writer.Queued > 0) Pump();
            else throw Violation($"{_inFlight[0]} never answers: it waits for nothing that can run");
            Collect();
        }
    }

    /// <summary>Runs one operation to its end; false when a crash or fault took it.</summary>
    private bool RunOperation(SimOperation operation)
    {
        var crashes = Report.Crashes;
        Start(operation);
        Quiesce();
        return crashes == Report.Crashes && operation.Task is { IsCompletedSuccessfully: true };
    }

    private T Drive<T>(Task<T> task)
    {
        Drive((Task)task);
        return task.Result;
    }

    /// <summary>Set-up and tear-down work, run to its end on the simulation's thread.</summary>
    private void Drive(Task task)
    {
        var guard = 0;
        while (!task.IsCompleted)
        {
            if (++guard > 100_000) throw Violation("set-up work never finishes");
            if (!_scheduler.RunOne(Random) && Process?.Writer.Queued > 0) Pump();
        }
        task.GetAwaiter().GetResult();
    }

    // ---- callers ---------------------------------------------------------------------------------------------------

    private void Start(SimOperation operation)
    {
        operation.Number = NextNumber();
        if (operation.Organization is { } org)
        {
            operation.AloneAtStart = !_inFlight.Any(o => o.Organization is null || o.Organization == org);
            operation.OrganizationCommitsAtStart = _commits.GetValueOrDefault(org.Id);
            operation.OrganizationOpsAtStart = _started[org.Id] = _started.GetValueOrDefault(org.Id) + 1;
        }
        else
        {
            foreach (var o in Model.Organizations.Values) _started[o.Id] = _started.GetValueOrDefault(o.Id) + 1;
        }
        Note($"start {operation}");
        _inFlight.Add(operation);
        WriterCaller.Set(operation);
        try
        {
            operation.Task = operation.RunAsync(this);
        }
        catch (Exception ex)
        {
            operation.Task = Task.FromException(ex);
        }
        finally
        {
            WriterCaller.Set(null);
        }
        operation.Started(this);
    }

    /// <summary>No other caller touched the organization, and no commit did, while the operation was in flight.</summary>
    public bool IsAlone(SimOperation operation) => operation.Organization is { } org && operation.AloneAtStart
        && _commits.GetValueOrDefault(org.Id) == operation.OrganizationCommitsAtStart
        && _started.GetValueOrDefault(org.Id) == operation.OrganizationOpsAtStart;

    private void Collect()
    {
        for (var i = 0; i < _inFlight.Count; i++)
        {
            var operation = _inFlight[i];
            if (operation.Task is not { IsCompleted: true } task) continue;
            _inFlight.RemoveAt(i--);
            if (task.IsFaulted || task.IsCanceled)
            {
                var error = task.Exception?.GetBaseException();
                if (!operation.FaultSeen) throw Violation($"{operation} failed with no fault injected: {error}");
                Report.FailedUnderFault++;
                Note($"failed under a fault: {operation}: {error?.Message}");
                if (operation is IngestOperation ingest) _retries.Add(ingest.Events);
                continue;
            }
            operation.Completed(this);
            Report.Count(operation.Kind);
            _trace.Add(operation.Trace());
            Note($"done {operation}: {operation.Trace()}");
        }
    }

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

    // ---- the writer --------------------------------------------------------------------------------------------------

    /// <summary>Forms one transaction from the first items queued (how many: the seed says) and checks what it changed.</summary>
    private void Pump()
    {
        var count = 1 + Random.Next(Process.Writer.Queued);
        SyncMembers(); // what the database says as the transaction begins
        _touched.Clear();
        _hooks.Injected = 0;
        Note($"pump {count} of {Process.Writer.Queued}");
        Report.Pumps++;
        Exception? error = null;
        try
        {
            Process.Writer.Pump(count);
        }
        catch (Exception ex)
        {
            error = ex;
        }
        if (_violation is { } violation) throw violation;
        if (_hooks.Injected > 0)
        {
            Report.Faults++;
            foreach (var operation in _inFlight) operation.FaultSeen = true;
        }
        if (_hooks.Crashed)
        {
            Report.Crashes++;
            Crash();
            return;
        }
        if (error is not null && error is not SimulatedFault) throw Violation($"the writer threw: {error}");
        foreach (var id in _touched) CompareOrganization(Model.Get(id), full: false);
    }

    private readonly HashSet<int> _touched = [];

    /// <summary>A violation seen inside the writer (which would take it for its own failure): thrown once the pump returns.</summary>
    private SimulationFailureException? _violation;

    private void OnCommitted(IReadOnlyList<WriterItemInfo> items, IReadOnlyList<int> organizations)
    {
        try
        {
            Apply(items, organizations);
        }
        catch (SimulationFailureException failure)
        {
            _violation ??= failure;
        }
    }

    private void Apply(IReadOnlyList<WriterItemInfo> items, IReadOnlyList<int> organizations)
    {
        Report.Commits++;
        var now = Now;
        // The engine closes what is due as it first touches an organization in a transaction, before anything else.
        foreach (var id in organizations)
        {
            if (Model.Organizations.Values.All(o => o.Id != id)) continue;
            Model.Get(id).CloseDue(now, Model);
            _commits[id] = _commits.GetValueOrDefault(id) + 1;
            _touched.Add(id);
        }
        foreach (var item in items)
        {
            if (!_committedItems.Add(item.Id)) throw Violation($"writer item {item.Id} ({item.Label} of {item.Caller}) committed twice");
            (item.Caller as SimOperation)?.Committed(this, item, now);
        }
    }

    private void Crash()
    {
        Note($"crash at {_hooks.CrashedAt}; lost: {string.Join(", ", _inFlight)}");
        _scheduler.Clear();
        foreach (var operation in _inFlight)
        {
            Report.Lost++;
            if (operation is IngestOperation ingest) _retries.Add(ingest.Events);
        }
        _inFlight.Clear();
        // Holds live in the view until their row commits: a crash forgets the ones that had not.
        foreach (var org in Model.Organizations.Values)
            foreach (var id in org.Holds.Keys.Where(id => !_durableHolds.Contains(id)).ToList())
                org.Holds.Remove(id);
        var crashed = Process;
        _hooks.Reset();
        try { Drive(crashed.DisposeAsync().AsTask()); }
        catch (Exception) { /* the dead process's writer may report its crash again as it closes */ }
        Process = new SimulationProcess(_configuration, Clock, _hooks);
        Report.Restarts++;
    }

    // ---- what the model learns from the database --------------------------------------------------------------------

    /// <summary>Members and their effective caps, as the database holds them now (SPEC §3.4's cap rule).</summary>
    public void SyncMembers()
    {
        using var connection = Open();
        var members = Model.Organizations.Values.ToDictionary(o => o.Id, _ => new Dictionary<string, ModelMember>(StringComparer.Ordinal));
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT m.OrganizationId, m.UserId, u.NormalizedEmail, m.CapMode, m.CapMillicredits, o.DefaultMemberCapMillicredits
            FROM Memberships m JOIN AspNetUsers u ON u.Id = m.UserId JOIN Organizations o ON o.Id = m.OrganizationId
            """;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (!members.TryGetValue(reader.GetInt32(0), out var of)) continue;
            long? custom = reader.IsDBNull(4) ? null : reader.GetInt64(4), orgDefault = reader.IsDBNull(5) ? null : reader.GetInt64(5);
            var cap = Enum.Parse<MemberCapMode>(reader.GetString(3)) switch
            {
                MemberCapMode.Custom => custom,
                MemberCapMode.Unlimited => null,
                _ => orgDefault,
            };
            of[reader.GetString(2)] = new ModelMember(reader.GetString(1), reader.GetString(2), cap);
        }
        foreach (var org in Model.Organizations.Values) org.Members = members[org.Id];
    }

    public void AddHold(HoldView hold, bool durable)
    {
        if (durable) _durableHolds.Add(hold.Id);
        var org = Model.Get(hold.OrganizationId);
        if (!org.Holds.ContainsKey(hold.Id))
            org.Holds[hold.Id] = new ModelHold { Id = hold.Id, UserId = hold.UserId, Amount = hold.Millicredits, ExpiresAt = hold.ExpiresAt };
    }

    public bool IsDurable(string holdId) => _durableHolds.Contains(holdId);

    /// <summary>Whether the payment taken for this quote was voided (the payment side is outside the ledger: read it).</summary>
    public bool IsVoided(string quoteId)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT Status FROM Invoices WHERE QuoteId = $quote";
        command.Parameters.AddWithValue("$quote", quoteId);
        return command.ExecuteScalar() as string == InvoiceStatuses.Void;
    }

    public ModelHold? FindHold(string id) => Model.Organizations.Values.Select(o => o.Holds.GetValueOrDefault(id)).FirstOrDefault(h => h is not null);

    // ---- checks -------------------------------------------------------------------------------------------------------

    public void Expect<T>(string what, T expected, T actual)
    {
        Report.Checks++;
        if (!EqualityComparer<T>.Default.Equals(expected, actual)) throw Violation($"{what}: expected {expected}, got {actual}");
    }

    public SimulationFailureException Violation(string message)
    {
        var replay = $"dotnet run -c Release --project Cassidy.Portal -- --simulate --seed {_options.Seed} --steps {Step}";
        return new SimulationFailureException(_options.Seed, Step, message, replay, [.. _recent]);
    }

    private void Note(string line)
    {
        _recent.Enqueue($"[{Step}] {line}");
        if (_recent.Count > 60) _recent.Dequeue();
    }

    /// <summary>Brings every organization up to now (as a page read does), then holds engine, model and database together.</summary>
    private void FullCheck()
    {
        // A crash or a fault may lose a read (a crash also loses what the process had read): read again, as a page would be.
        for (var attempt = 0; !Model.Organizations.Values.All(org => RunOperation(new ReadOperation { Organization = org })); attempt++)
            if (attempt > 20) throw Violation("the organizations cannot be read");
        foreach (var org in Model.Organizations.Values)
        {
            org.CloseDue(Now, Model);
            CompareOrganization(org, full: true);
        }
        Report.FullChecks++;
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_configuration.GetConnectionString("Portal"));
        connection.Open();
        return connection;
    }

    private static object? Scalar(SqliteConnection connection, string sql, int org, params (string, object)[] more)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$org", org);
        foreach (var (name, value) in more) command.Parameters.AddWithValue(name, value);
        var value1 = command.ExecuteScalar();
        return value1 is DBNull ? null : value1;
    }

    private static List<object?[]> Rows(SqliteConnection connection, string sql, int org, params (string, object)[] more)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$org", org);
        foreach (var (name, value) in more) command.Parameters.AddWithValue(name, value);
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    private static DateTime Utc(object? text) => DateTime.SpecifyKind(DateTime.Parse((string)text!, System.Globalization.CultureInfo.InvariantCulture), DateTimeKind.Utc);

    /// <summary>
    /// The organization's money in the model, in the database and in the authorize view must agree, and the database must
    /// agree with itself (LEDGER.md's invariants). <paramref name="full"/>: also holds, rollups, the ledger's running
    /// balances, invoices and alert firings (when the run is at rest).
    /// </summary>
    private void CompareOrganization(ModelOrganization org, bool full)
    {
        var o = $"{org.Slug}";
        using var c = Open();
        var account = Rows(c, "SELECT BalanceMillicredits, OverdraftMillicredits, CurrentPeriodStart, CurrentPeriodEnd FROM CreditAccounts WHERE OrganizationId = $org", org.Id).Single();
        long balance = (long)account[0]!, overdraft = (long)account[1]!;
        Expect($"{o}: the model's balance is its grants less overdraft", org.Balance, org.GrantsRemaining - org.Overdraft);
        Expect($"{o}: balance", org.Balance, balance);
        Expect($"{o}: overdraft", org.Overdraft, overdraft);
        Expect($"{o}: period", (org.PeriodStart, org.PeriodEnd), (Utc(account[2]), Utc(account[3])));
        var ledger = Rows(c, "SELECT Kind, SUM(AmountMillicredits), COUNT(*) FROM LedgerEntries WHERE OrganizationId = $org GROUP BY Kind", org.Id)
            .ToDictionary(r => (string)r[0]!, r => ((long)r[1]!, (long)r[2]!));
        Expect($"{o}: stored balance = sum of the ledger", balance, ledger.Values.Sum(v => v.Item1));
        string[] kinds = [LedgerKinds.Grant, LedgerKinds.Usage, LedgerKinds.Expiry, LedgerKinds.Rollover, LedgerKinds.Adjustment];
        Expect($"{o}: ledger sums by kind", string.Join(", ", kinds.Select(k => $"{k} {org.LedgerByKind.GetValueOrDefault(k)}")),
            string.Join(", ", kinds.Select(k => $"{k} {ledger.GetValueOrDefault(k).Item1}")));
        Expect($"{o}: one usage entry per recorded call", org.UsageEntries, ledger.GetValueOrDefault(LedgerKinds.Usage).Item2);
        var grants = Rows(c, "SELECT Kind, RemainingMillicredits, ExpiresAt FROM CreditGrants WHERE OrganizationId = $org AND ExpiredAt IS NULL AND RemainingMillicredits <> 0", org.Id)
            .Select(r => $"{r[0]} {r[1]} {(r[2] is null ? "-" : Utc(r[2]).ToString("O"))}").Order().ToList();
        Expect($"{o}: stored balance = grants remaining − overdraft", balance,
            Rows(c, "SELECT COALESCE(SUM(RemainingMillicredits), 0) FROM CreditGrants WHERE OrganizationId = $org AND ExpiredAt IS NULL", org.Id).Single()[0] is long sum ? sum - overdraft : -1);
        Expect($"{o}: grants with credits left", string.Join("; ", org.Grants.Where(g => !g.Expired && g.Remaining != 0)
            .Select(g => $"{g.Kind} {g.Remaining} {(g.ExpiresAt is { } e ? e.ToString("O") : "-")}").Order()), string.Join("; ", grants));
        var events = Rows(c, "SELECT Type, COUNT(*), SUM(CreditsMillicredits) FROM UsageEvents WHERE OrganizationId = $org GROUP BY Type", org.Id)
            .ToDictionary(r => (string)r[0]!, r => ((long)r[1]!, (long)r[2]!));
        foreach (var type in new[] { UsageTypes.ModelCall, UsageTypes.Meeting, UsageTypes.Storage })
            Expect($"{o}: recorded {type} events", (long)org.Events.Values.Count(e => e.Type == type), events.GetValueOrDefault(type).Item1);
        Expect($"{o}: credits of recorded calls = usage in the ledger", -ledger.GetValueOrDefault(LedgerKinds.Usage).Item1,
            events.GetValueOrDefault(UsageTypes.ModelCall).Item2);
        var plan = Rows(c, "SELECT Plan, ScheduledPlan, EnterpriseMonthlyCredits FROM Organizations WHERE Id = $org", org.Id).Single();
        Expect($"{o}: plan", (org.Plan, org.ScheduledPlan), ((string)plan[0]!, (string?)plan[1]));
        if (org.Plan == PlanCatalog.Enterprise) Expect($"{o}: agreement", org.EnterpriseCredits, (long?)plan[2]);
        Expect($"{o}: grants expired twice", 0, Rows(c, "SELECT GrantId FROM LedgerEntries WHERE OrganizationId = $org AND Kind = 'expiry' GROUP BY GrantId HAVING COUNT(*) > 1", org.Id).Count);
        var usage = Rows(c, "SELECT UserId, -SUM(AmountMillicredits) FROM LedgerEntries WHERE OrganizationId = $org AND Kind = 'usage' AND OccurredAt >= $start GROUP BY UserId",
            org.Id, ("$start", org.PeriodStart)).ToDictionary(r => (string)r[0]!, r => (long)r[1]!);
        Expect($"{o}: members' usage this period", Describe(org.MemberUsage), Describe(usage));

        var view = Process.Ledger.View.Find(org.Id);
        if (view is not null)
        {
            Expect($"{o}: view balance", org.Balance, view.Balance);
            Expect($"{o}: view plan and allowance", (org.Plan, org.Allowance), (view.Plan, view.Allowance));
            Expect($"{o}: view period", org.PeriodEnd, view.Period.End);
            Expect($"{o}: view usage this period", org.PeriodUsage, view.PeriodUsage);
            Expect($"{o}: view members' usage", Describe(org.MemberUsage), Describe(org.MemberUsage.Keys.ToDictionary(u => u, view.MemberUsage)));
            Expect($"{o}: view members and caps", string.Join(", ", org.Members.Values.Select(m => $"{m.NormalizedEmail}:{m.Cap}").Order()),
                string.Join(", ", view.Members().Select(m => $"{m.Member.NormalizedEmail}:{m.Member.CapMillicredits}").Order()));
        }
        if (!full) return;

        Expect($"{o}: view present after a read", true, view is not null);
        var active = Rows(c, "SELECT Id FROM CreditHolds WHERE OrganizationId = $org AND Status = 'active' AND ExpiresAt > $now", org.Id, ("$now", Now))
            .Select(r => (string)r[0]!).Order().ToList();
        Expect($"{o}: active holds in the database", string.Join(",", org.Holds.Values.Where(h => h.IsActive(Now)).Select(h => h.Id).Order()), string.Join(",", active));
        Expect($"{o}: held in the view", org.Held(Now), view!.HeldMillicredits(Now));
        Expect($"{o}: expired holds still marked active (view changes at {view.NextChangeAt:O})", "",
            string.Join(", ", Rows(c, "SELECT Id, ExpiresAt FROM CreditHolds WHERE OrganizationId = $org AND Status = 'active' AND ExpiresAt <= $now", org.Id, ("$now", Now))
                .Select(r => $"{r[0]} expired {r[1]}")));
        var check = Drive(Process.Ledger.CheckAsync(org.Id));
        Expect($"{o}: the admin-visible ledger check ({check})", true, check.Ok);
        long running = 0;
        foreach (var row in Rows(c, "SELECT AmountMillicredits, BalanceAfterMillicredits, Id FROM LedgerEntries WHERE OrganizationId = $org ORDER BY Id", org.Id))
        {
            running += (long)row[0]!;
            if (running != (long)row[1]!) throw Violation($"{o}: ledger entry {row[2]} says the balance after it is {row[1]}, the entries before it sum to {running}");
        }
        Report.Checks++;
        Expect($"{o}: alert fired twice", 0, Rows(c, "SELECT RuleId FROM AlertFirings WHERE OrganizationId = $org GROUP BY RuleId, Threshold, PeriodStart, Subject HAVING COUNT(*) > 1", org.Id).Count);
        CheckInvoices(c, org);
    }

    /// <summary>
    /// One issued invoice per upgrade carried out, marked applied; every other payment voided — at once when its change was
    /// refused, by the closer once its quote expired when the process died between the payment and the change.
    /// </summary>
    private void CheckInvoices(SqliteConnection c, ModelOrganization org)
    {
        var invoices = Rows(c, "SELECT Id, QuoteId, Status, AppliedAt, IssuedAt, AmountCents FROM Invoices WHERE OrganizationId = $org", org.Id);
        foreach (var row in invoices)
        {
            var quote = (string?)row[1];
            if (quote is not null && org.AppliedQuotes.TryGetValue(quote, out var cents))
                Expect($"{org.Slug}: invoice of applied quote {quote}", (InvoiceStatuses.Issued, true, cents), ((string)row[2]!, row[3] is not null, (long)row[5]!));
            else if ((string)row[2]! == InvoiceStatuses.Issued && Utc(row[4]) + QuoteLifetime <= LastTick)
                throw Violation($"{org.Slug}: invoice {row[0]} ({quote}, {row[5]} cents) is issued, and no upgrade was carried out for it");
            else Report.Checks++;
        }
        foreach (var quote in org.AppliedQuotes.Keys)
            Expect($"{org.Slug}: invoices of applied quote {quote}", 1, invoices.Count(r => (string?)r[1] == quote));
    }

    /// <summary>After an evaluation with nothing else going on: every threshold reached this period has fired.</summary>
    public void ExpectAlertsFired(ModelOrganization org)
    {
        using var c = Open();
        var rules = Rows(c, "SELECT Id, Kind, Thresholds FROM AlertRules WHERE OrganizationId = $org AND Enabled = 1", org.Id);
        var fired = Rows(c, "SELECT RuleId, Threshold, Subject FROM AlertFirings WHERE OrganizationId = $org AND PeriodStart = $start", org.Id, ("$start", org.PeriodStart))
            .Select(r => ((long)r[0]!, (long)r[1]!, (string)r[2]!)).ToHashSet();
        foreach (var rule in rules)
        {
            var thresholds = ((string)rule[2]!).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).Where(t => t > 0);
            foreach (var t in thresholds)
            {
                if ((string)rule[1]! == AlertKinds.OrgAllowancePercent && org.Allowance > 0 && org.PeriodUsage * 100 >= t * org.Allowance)
                    Expect($"{org.Slug}: alert {t}% of the allowance ({org.PeriodUsage} of {org.Allowance}) fired", true, fired.Contains(((long)rule[0]!, t, AlertFiring.OrganizationSubject)));
                if ((string)rule[1]! == AlertKinds.OrgBalanceBelow && org.Balance < t * 1000)
                    Expect($"{org.Slug}: alert balance {org.Balance} below {t} credits fired", true, fired.Contains(((long)rule[0]!, t, AlertFiring.OrganizationSubject)));
                if ((string)rule[1]! == AlertKinds.MemberCapPercent)
                    foreach (var m in org.Members.Values.Where(m => m.Cap is > 0 && org.MemberUsage.GetValueOrDefault(m.UserId) * 100 >= t * m.Cap))
                        Expect($"{org.Slug}: alert {t}% of {m.NormalizedEmail}'s cap fired", true, fired.Contains(((long)rule[0]!, t, m.UserId)));
            }
        }

        // Thresholds reached together are told once, by the highest: a covered firing points at a higher one of its rule and subject.
        Expect($"{org.Slug}: a firing told with another that is not a higher threshold of the same rule and subject", 0, Rows(c, """
            SELECT f.Id FROM AlertFirings f LEFT JOIN AlertFirings w ON w.Id = f.SentWithId
            WHERE f.OrganizationId = $org AND f.SentWithId IS NOT NULL
              AND (w.Id IS NULL OR w.RuleId <> f.RuleId OR w.Subject <> f.Subject OR w.Threshold <= f.Threshold OR w.SentWithId IS NOT NULL)
            """, org.Id).Count);

        // Out of credits and back again: the evaluation leaves the organization's credit state as the model's balance says.
        var state = Rows(c, "SELECT Exhausted FROM CreditStates WHERE OrganizationId = $org AND Subject = 'org'", org.Id);
        var exhausted = state.Count == 1 && Convert.ToInt64(state[0][0], System.Globalization.CultureInfo.InvariantCulture) == 1;
        Expect($"{org.Slug}: credit state exhausted with a balance of {org.Balance}", org.Balance <= 0, exhausted);
    }

    private static string Describe(IReadOnlyDictionary<string, long> usage) =>
        string.Join(", ", usage.Where(u => u.Value != 0).OrderBy(u => u.Key, StringComparer.Ordinal).Select(u => $"{u.Key}={u.Value}"));

    public async ValueTask DisposeAsync()
    {
        try { await Process.DisposeAsync(); } catch (Exception) { /* the run already failed or finished */ }
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
