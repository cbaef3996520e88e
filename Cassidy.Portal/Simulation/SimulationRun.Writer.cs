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

/// <summary>
/// The run's writer: one transaction formed at a time (its size drawn by the seed), what it committed applied to the
/// reference model, crashes; and what the model learns from the database (members, durable holds, voided quotes).
/// </summary>
internal sealed partial class SimulationRun
{
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
}
