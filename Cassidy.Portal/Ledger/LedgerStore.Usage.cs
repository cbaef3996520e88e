using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// What ingest and authorize do in a transaction: a usage event recorded exactly once and charged (settling its hold),
/// holds placed durable, released and found due.
/// </summary>
internal sealed partial class LedgerStore
{
    /// <summary>Records one prepared event exactly once: the unique (organization, id) index decides, the hash tells
    /// a replay (duplicate) from a different event reusing the id (conflict).</summary>
    public UsageResult Record(PreparedUsage e)
    {
        var book = Book(e.Organization);
        if (book is null) return UsageResult.Rejected(e.Id, UsageErrors.UnknownOrganization);

        MemberInfo? member = null;
        string? failure = null;
        if (e.NormalizedUser is { } email && (member = book.MembersByEmail.GetValueOrDefault(email)) is null) failure = UsageErrors.UnknownMember;
        if (failure is null && !e.Price.Ok) failure = e.Price.Error;

        long? eventId = null;
        if (failure is null)
            eventId = _insertEvent.Bind(book.OrganizationId).Bind(e.Id).Bind(e.ContentHash).Bind(e.Type).Bind(member?.UserId)
                .Bind(e.OccurredAt).Bind(e.Feature).Bind(e.Model).Bind(e.InputTokens).Bind(e.KnowledgeTokens).Bind(e.OutputTokens)
                .Bind(e.Capabilities.Count == 0 ? null : string.Join(',', e.Capabilities)).Bind(e.AgentId).Bind(e.WorkflowId)
                .Bind(e.RunId).Bind(e.HoldId).Bind(e.Minutes).Bind(e.Bytes).Bind(e.Price.Millicredits).Bind(Now).ExecuteInsert();
        _hooks?.At(WriterPoint.Statement);
        if (eventId is null)
        {
            using var found = _findEvent.Bind(book.OrganizationId).Bind(e.Id).Query();
            if (!found.Read()) return UsageResult.Rejected(e.Id, failure ?? UsageErrors.Conflict);
            return found.GetBytes(0).AsSpan().SequenceEqual(e.ContentHash)
                ? new UsageResult(e.Id, UsageStatuses.Duplicate, found.GetInt64(1), null)
                : UsageResult.Rejected(e.Id, UsageErrors.Conflict);
        }

        switch (e.Type)
        {
            case UsageTypes.ModelCall:
                Charge(book, e, member!, eventId.Value);
                break;
            case UsageTypes.Meeting:
                _rollups.AddMeeting(book.OrganizationId, e.OccurredAt, member!.UserId, e.Minutes!.Value);
                break;
            default:
                _insertStorage.Bind(book.OrganizationId).Bind(e.OccurredAt).Bind(e.Bytes!.Value).Bind(eventId.Value).Execute();
                break;
        }
        return new UsageResult(e.Id, UsageStatuses.Recorded, e.Price.Millicredits, null);
    }

    private void Charge(OrganizationBook book, PreparedUsage e, MemberInfo member, long eventId)
    {
        var credits = e.Price.Millicredits;
        var draws = book.Debit(credits, Now);
        // Which grants paid: usually all of it came from one, and the usage entry names that grant. Only usage split across
        // grants or running into overdraft gets UsageDraws rows (one per part, a null grant for the overdraft part), which
        // spares the common case a row and an index entry per event.
        var single = draws is [{ Grant: { } grant }] ? grant : null;
        if (single is null)
            foreach (var draw in draws) _insertDraw.Bind(eventId).Bind(draw.Grant?.Id).Bind(draw.Amount).Execute();
        Ledger(book, LedgerKinds.Usage, -credits, Now, single?.Id, eventId, member.UserId, null);
        book.AddUsage(member.UserId, credits);
        _rollups.AddCall(book.OrganizationId, e, member.UserId, credits);
        // The call settles its hold: the actual credits are debited above, the reservation ends (if it still held).
        if (e.HoldId is { } holdId && _settleHold.Bind(Now).Bind(holdId).Bind(book.OrganizationId).ExecuteNonQuery() == 1)
            Resolved(book.OrganizationId, holdId);
    }

    /// <summary>Makes a hold the view admitted durable; the caller gets its id only after this commits.</summary>
    public HoldView InsertHold(HoldView hold, string feature, string? model)
    {
        _insertHold.Bind(hold.Id).Bind(hold.OrganizationId).Bind(hold.UserId).Bind(feature).Bind(model).Bind(hold.Millicredits).Bind(Now)
            .Bind(hold.ExpiresAt).Execute();
        if (_books.TryGetValue(hold.OrganizationId, out var book) && (book.NextHoldExpiry is not { } next || hold.ExpiresAt < next))
            book.NextHoldExpiry = hold.ExpiresAt;
        _insertedHolds.Add(hold);
        return hold;
    }

    /// <summary>Releases an active hold whose call never ran; false when no active, unexpired hold has this id.</summary>
    public bool ReleaseHold(string holdId)
    {
        int organizationId;
        using (var released = _releaseHold.Bind(Now).Bind(holdId).Query())
        {
            if (!released.Read()) return false;
            organizationId = released.GetInt32(0);
        }
        Resolved(organizationId, holdId);
        return true;
    }

    private void Resolved(int organizationId, string holdId)
    {
        if (!_resolvedHolds.TryGetValue(organizationId, out var ids)) _resolvedHolds[organizationId] = ids = [];
        ids.Add(holdId);
    }

    /// <summary>Organizations with a period, a grant or a hold due by now (for the background closer).</summary>
    public List<int> DueOrganizations()
    {
        var ids = new List<int>();
        using var rows = _dueOrganizations.Bind(Now).Query();
        while (rows.Read()) ids.Add(rows.GetInt32(0));
        return ids;
    }
}
