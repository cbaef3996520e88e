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
internal sealed partial class SimulationRun : IAsyncDisposable
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
        Note("end: settle, finish the time-zone rebuilds and check everything");
        Quiesce();
        FinishRebuilds();
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

    public async ValueTask DisposeAsync()
    {
        try { await Process.DisposeAsync(); } catch (Exception) { /* the run already failed or finished */ }
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
