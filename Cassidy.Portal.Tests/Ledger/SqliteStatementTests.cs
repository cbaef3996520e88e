using Cassidy.Portal.Ledger;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Tests.Ledger;

/// <summary>The writer's positional statements store every value exactly as Microsoft.Data.Sqlite (and EF Core) does.</summary>
public sealed class SqliteStatementTests
{
    private static readonly string[] ParameterNames = ["$path", "$i", "$n", "$s", "$u", "$at", "$h", "$d", "$m", "$dy"];

    private static readonly DateTime[] Instants =
    [
        new(2026, 3, 1, 12, 34, 56, DateTimeKind.Utc),
        new DateTime(2026, 3, 1, 12, 34, 56, DateTimeKind.Utc).AddTicks(1234567),
        new DateTime(2026, 12, 31, 23, 59, 59, DateTimeKind.Utc).AddTicks(5000),
    ];

    [Fact]
    public void Values_are_stored_as_an_SqliteCommand_stores_them()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE t (Path TEXT, I INTEGER, N INTEGER, S TEXT, U TEXT, At TEXT, H BLOB, D REAL, M REAL, Dy TEXT)";
            create.ExecuteNonQuery();
        }
        const string insert = "INSERT INTO t VALUES ($path, $i, $n, $s, $u, $at, $h, $d, $m, $dy)";
        using var statement = new SqliteStatement(connection, insert);
        foreach (var at in Instants)
        {
            using var command = connection.CreateCommand();
            command.CommandText = insert;
            var day = DateOnly.FromDateTime(at);
            object?[] values = ["command", 42L, null, "plain", "Zoë ✓ 日本", at, new byte[] { 0, 1, 255 }, 45.5, null, day];
            for (var i = 0; i < values.Length; i++)
                command.Parameters.AddWithValue(ParameterNames[i], values[i] ?? DBNull.Value);
            command.ExecuteNonQuery();
            statement.Bind("statement").Bind(42L).Bind((long?)null).Bind("plain").Bind("Zoë ✓ 日本").Bind(at).Bind(new byte[] { 0, 1, 255 })
                .Bind(45.5).Bind((double?)null).Bind(day).Execute();
        }

        using var read = connection.CreateCommand();
        read.CommandText = """
            SELECT quote(I), quote(N), quote(S), quote(U), quote(At), quote(H), quote(D), quote(M), typeof(At), typeof(U), quote(Dy)
            FROM t WHERE Path = $path ORDER BY rowid
            """;
        var parameter = read.Parameters.Add("$path", SqliteType.Text);
        List<string> Rows(string path)
        {
            parameter.Value = path;
            using var reader = read.ExecuteReader();
            var rows = new List<string>();
            while (reader.Read()) rows.Add(string.Join('|', Enumerable.Range(0, reader.FieldCount).Select(reader.GetString)));
            return rows;
        }
        Assert.Equal(Rows("command"), Rows("statement"));
        Assert.Equal(Instants.Length, Rows("statement").Count);
    }

    [Fact]
    public void An_insert_gives_the_new_rows_id_and_null_when_its_conflict_clause_skipped_it()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE e (Id INTEGER PRIMARY KEY, Ext TEXT NOT NULL UNIQUE); INSERT INTO e (Ext) VALUES ('first');";
            create.ExecuteNonQuery();
        }
        using var insert = new SqliteStatement(connection, "INSERT INTO e (Ext) VALUES ($ext) ON CONFLICT (Ext) DO NOTHING");
        Assert.Equal(2, insert.Bind("second").ExecuteInsert());
        Assert.Null(insert.Bind("first").ExecuteInsert());
        Assert.Null(insert.Bind("second").ExecuteInsert());
        Assert.Equal(3, insert.Bind("third").ExecuteInsert());
    }

    [Fact]
    public void Instants_are_written_as_the_custom_format_writes_them()
    {
        var random = new Random(20260301);
        var instants = Instants.Concat([DateTime.MinValue, DateTime.MaxValue, new DateTime(1, 1, 1, 0, 0, 0, 1)])
            .Concat(Enumerable.Range(0, 2000).Select(_ => new DateTime(random.NextInt64(DateTime.MaxValue.Ticks), DateTimeKind.Utc)))
            .Concat(Enumerable.Range(0, 200).Select(i => new DateTime(2026, 1, 1).AddTicks((long)Math.Pow(10, i % 8) * (i % 9))));
        Span<byte> text = stackalloc byte[27];
        foreach (var at in instants)
        {
            var written = SqliteStatement.FormatDateTime(at, text);
            Assert.Equal(at.ToString(SqliteStatement.DateTimeFormat, System.Globalization.CultureInfo.InvariantCulture),
                System.Text.Encoding.ASCII.GetString(text[..written]));
        }
    }

    [Fact]
    public void The_first_column_of_the_first_row_or_null_and_a_missing_parameter_is_refused()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using var select = new SqliteStatement(connection, "SELECT $a WHERE $b");
        Assert.Equal(7, select.Bind(7L).Bind(1L).ExecuteScalar());
        Assert.Null(select.Bind(7L).Bind(0L).ExecuteScalar());
        Assert.Null(select.BindNull().Bind(1L).ExecuteScalar());
        Assert.Throws<InvalidOperationException>(() => select.Bind(7L).ExecuteScalar());
        Assert.Equal(8, select.Bind(8L).Bind(1L).ExecuteScalar()); // usable again after a refusal
    }
}
