using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// A prepared statement of the writer (every statement it runs, reads included), bound by position with typed values. An <see cref="SqliteCommand"/> looks every parameter up by name and boxes every value on each execution:
/// measured, that binding cost the writer more than SQLite's own work for these inserts. Values are stored exactly as
/// Microsoft.Data.Sqlite stores them (text in UTF-8, <see cref="DateTime"/> as <see cref="DateTimeFormat"/>), so rows
/// read the same whichever path wrote them. Bind every parameter, in order of first appearance in the SQL, then
/// execute; used by one thread at a time (the writer's), like the connection it belongs to.
/// </summary>
internal sealed class SqliteStatement : IDisposable
{
    /// <summary>How Microsoft.Data.Sqlite (and so EF Core) writes a <see cref="DateTime"/> as text.</summary>
    public const string DateTimeFormat = @"yyyy\-MM\-dd HH\:mm\:ss.FFFFFFF";

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly int _parameterCount;
    private byte[] _utf8 = new byte[256];
    private int _bound;

    public SqliteStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        Check(raw.sqlite3_prepare_v2(_db, sql, out _statement));
        _parameterCount = raw.sqlite3_bind_parameter_count(_statement);
    }

    public SqliteStatement Bind(long value) => Bound(raw.sqlite3_bind_int64(_statement, ++_bound, value));

    public SqliteStatement Bind(long? value) => value is { } v ? Bind(v) : BindNull();

    public SqliteStatement Bind(double? value) =>
        value is { } v ? Bound(raw.sqlite3_bind_double(_statement, ++_bound, v)) : BindNull();

    public SqliteStatement Bind(string? value)
    {
        if (value is null) return BindNull();
        var length = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_utf8.Length < length) _utf8 = new byte[Math.Max(length, _utf8.Length * 2)];
        var written = Encoding.UTF8.GetBytes(value, _utf8);
        // SQLite copies the text (SQLITE_TRANSIENT), so the buffer is free again for the next parameter.
        return Bound(raw.sqlite3_bind_text(_statement, ++_bound, _utf8.AsSpan(0, written)));
    }

    public SqliteStatement Bind(DateTime value)
    {
        Span<byte> text = stackalloc byte[27];
        return Bound(raw.sqlite3_bind_text(_statement, ++_bound, text[..FormatDateTime(value, text)]));
    }

    /// <summary>
    /// Writes <paramref name="value"/> as <see cref="DateTimeFormat"/> would ("2026-03-01 12:34:56.1234567", the fraction
    /// without trailing zeros, no fraction at all when it is zero) into at least 27 bytes; returns the length. By hand,
    /// because a custom format string is interpreted on every call, and every event stores three instants.
    /// </summary>
    internal static int FormatDateTime(DateTime value, Span<byte> text)
    {
        Digits(text[..4], value.Year);
        text[4] = (byte)'-';
        Digits(text.Slice(5, 2), value.Month);
        text[7] = (byte)'-';
        Digits(text.Slice(8, 2), value.Day);
        text[10] = (byte)' ';
        Digits(text.Slice(11, 2), value.Hour);
        text[13] = (byte)':';
        Digits(text.Slice(14, 2), value.Minute);
        text[16] = (byte)':';
        Digits(text.Slice(17, 2), value.Second);
        var fraction = (int)(value.Ticks % TimeSpan.TicksPerSecond);
        if (fraction == 0) return 19;
        text[19] = (byte)'.';
        var length = 7;
        while (fraction % 10 == 0)
        {
            fraction /= 10;
            length--;
        }
        Digits(text.Slice(20, length), fraction);
        return 20 + length;
    }

    private static void Digits(Span<byte> text, int value)
    {
        for (var i = text.Length - 1; i >= 0; i--)
        {
            text[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }

    public SqliteStatement Bind(DateTime? value) => value is { } v ? Bind(v) : BindNull();

    /// <summary>A day as EF Core stores a <see cref="DateOnly"/>: "2026-03-01".</summary>
    public SqliteStatement Bind(DateOnly value)
    {
        Span<byte> text = stackalloc byte[10];
        Digits(text[..4], value.Year);
        text[4] = (byte)'-';
        Digits(text.Slice(5, 2), value.Month);
        text[7] = (byte)'-';
        Digits(text.Slice(8, 2), value.Day);
        return Bound(raw.sqlite3_bind_text(_statement, ++_bound, text));
    }

    public SqliteStatement Bind(byte[] value) => Bound(raw.sqlite3_bind_blob(_statement, ++_bound, value));

    public SqliteStatement BindNull() => Bound(raw.sqlite3_bind_null(_statement, ++_bound));

    /// <summary>Runs the statement; the first column of its first row as an integer, null when there is no row (or NULL).</summary>
    public long? ExecuteScalar()
    {
        try
        {
            var rc = Step();
            return rc == raw.SQLITE_ROW && raw.sqlite3_column_type(_statement, 0) != raw.SQLITE_NULL
                ? raw.sqlite3_column_int64(_statement, 0)
                : null;
        }
        finally
        {
            Reset();
        }
    }

    /// <summary>
    /// Runs an INSERT (… ON CONFLICT DO NOTHING): the new row's id, or null when the conflict clause skipped it. Asks the
    /// connection for the changes and the last rowid instead of a RETURNING clause, which makes SQLite buffer the row.
    /// </summary>
    public long? ExecuteInsert()
    {
        try
        {
            Step();
            return raw.sqlite3_changes(_db) == 1 ? raw.sqlite3_last_insert_rowid(_db) : null;
        }
        finally
        {
            Reset();
        }
    }

    /// <summary>Runs a statement that returns no rows.</summary>
    public void Execute()
    {
        try { Step(); }
        finally { Reset(); }
    }

    /// <summary>Runs an INSERT, UPDATE or DELETE; the rows it changed (not counting what triggers changed).</summary>
    public int ExecuteNonQuery()
    {
        try
        {
            Step();
            return raw.sqlite3_changes(_db);
        }
        finally
        {
            Reset();
        }
    }

    /// <summary>Runs a query: read its rows through the returned reader, and dispose it (which resets the statement).</summary>
    public SqliteRows Query()
    {
        if (_bound != _parameterCount)
            throw new InvalidOperationException($"{_bound} of the statement's {_parameterCount} parameters were bound.");
        return new SqliteRows(this);
    }

    /// <summary>The rows of a <see cref="Query"/>, read by column position as Microsoft.Data.Sqlite stores the values.</summary>
    public readonly struct SqliteRows(SqliteStatement statement) : IDisposable
    {
        private sqlite3_stmt Handle => statement._statement;

        public bool Read()
        {
            var rc = raw.sqlite3_step(Handle);
            if (rc == raw.SQLITE_ROW) return true;
            if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, statement._db);
            return false;
        }

        public bool IsNull(int column) => raw.sqlite3_column_type(Handle, column) == raw.SQLITE_NULL;
        public long GetInt64(int column) => raw.sqlite3_column_int64(Handle, column);
        public long? GetInt64OrNull(int column) => IsNull(column) ? null : GetInt64(column);
        public int GetInt32(int column) => raw.sqlite3_column_int(Handle, column);
        public int? GetInt32OrNull(int column) => IsNull(column) ? null : GetInt32(column);
        public string GetString(int column) => raw.sqlite3_column_text(Handle, column).utf8_to_string();
        public string? GetStringOrNull(int column) => IsNull(column) ? null : GetString(column);
        public byte[] GetBytes(int column) => raw.sqlite3_column_blob(Handle, column).ToArray();
        public DateTime GetDateTime(int column) => ParseDateTime(GetString(column));
        public DateTime? GetDateTimeOrNull(int column) => IsNull(column) ? null : GetDateTime(column);

        public void Dispose() => statement.Reset();
    }

    /// <summary>An instant as stored (<see cref="DateTimeFormat"/>, or any ISO-8601 text SQLite's functions wrote), as UTC.</summary>
    public static DateTime ParseDateTime(string text) =>
        DateTime.TryParseExact(text, DateTimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var exact)
            ? exact
            : DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    public SqliteStatement Bind(int value) => Bind((long)value);

    public SqliteStatement Bind(int? value) => value is { } v ? Bind((long)v) : BindNull();

    private int Step()
    {
        if (_bound != _parameterCount)
            throw new InvalidOperationException($"{_bound} of the statement's {_parameterCount} parameters were bound.");
        var rc = raw.sqlite3_step(_statement);
        if (rc is not (raw.SQLITE_ROW or raw.SQLITE_DONE)) SqliteException.ThrowExceptionForRC(rc, _db);
        return rc;
    }

    private void Reset()
    {
        _bound = 0;
        raw.sqlite3_reset(_statement);
    }

    private SqliteStatement Bound(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            Reset();
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
        return this;
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
    }

    public void Dispose() => _statement.Dispose();
}
