package registry_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// Query and Exec by message, sent raw to the registry actor as a remote
// caller would, on both dialects.

// queryRegistry builds a registry in an actor system of its own (New with
// a nil system) and closes it when the test ends.
func queryRegistry(t *testing.T, cfg registry.Config, opts ...registry.Option) *registry.Registry {
	t.Helper()
	reg, err := registry.New(nil, cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, reg.Close(ctx))
	})
	return reg
}

func qAsk(t *testing.T, reg *registry.Registry, msg any) any {
	t.Helper()
	reply, err := request.Request(testCtx(t), reg.System(), reg.PID(), msg, 0)
	require.NoError(t, err)
	return reply
}

func qQuery(t *testing.T, reg *registry.Registry, q *messages.Query) *messages.QueryResult {
	t.Helper()
	r, ok := qAsk(t, reg, q).(*messages.QueryResult)
	require.True(t, ok)
	return r
}

func qExec(t *testing.T, reg *registry.Registry, e *messages.Exec) *messages.ExecResult {
	t.Helper()
	r, ok := qAsk(t, reg, e).(*messages.ExecResult)
	require.True(t, ok)
	return r
}

// qOK runs an Exec that must succeed and returns its rows affected.
func qOK(t *testing.T, reg *registry.Registry, sql string, args ...*messages.Value) int64 {
	t.Helper()
	r := qExec(t, reg, &messages.Exec{Sql: sql, Args: args})
	require.Nil(t, r.GetError(), "%s", sql)
	return r.GetRowsAffected()
}

// qCount runs a query whose one cell is an integer.
func qCount(t *testing.T, reg *registry.Registry, target *messages.Target, sql string) int64 {
	t.Helper()
	r := qQuery(t, reg, &messages.Query{Target: target, Sql: sql})
	require.Nil(t, r.GetError(), "%s", sql)
	require.Len(t, r.GetRows(), 1)
	return r.GetRows()[0].GetValues()[0].GetInt()
}

func qWait(t *testing.T, p *request.Pending) any {
	t.Helper()
	reply, err := p.Wait(testCtx(t), nil)
	require.NoError(t, err)
	return reply
}

func replyErr(t *testing.T, reply any) *messages.Error {
	t.Helper()
	switch r := reply.(type) {
	case *messages.QueryResult:
		return r.GetError()
	case *messages.ExecResult:
		return r.GetError()
	}
	t.Fatalf("unexpected reply %T", reply)
	return nil
}

func requireCode(t *testing.T, code messages.Code, e *messages.Error) {
	t.Helper()
	require.NotNil(t, e, "want %s", code)
	require.Equal(t, code.String(), e.GetCode().String(), "%s", e.GetMessage())
	require.ErrorIs(t, e, code.Sentinel())
}

// ph is the n-th placeholder ($n works on both dialects).
func ph(n int) string { return fmt.Sprintf("$%d", n) }

// Every Value kind goes in as an argument and comes back with its kind and
// value exactly, NULL included, and columns carry the database's type
// names.
func TestQueryTypedValues(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := queryRegistry(t, registry.Config{Database: b.url(t)})
		require.NoError(t, reg.Connect(testCtx(t)))
		pg := b.name == "postgres"

		ddl := `CREATE TABLE vals (id INTEGER PRIMARY KEY, b BOOLEAN, i INTEGER, f REAL, t TEXT, by BLOB,
			ts TIMESTAMP, d DATE, n NUMERIC, j JSON, jt JSON, nul TEXT)`
		types := []string{"INTEGER", "BOOLEAN", "INTEGER", "REAL", "TEXT", "BLOB", "TIMESTAMP", "DATE", "NUMERIC", "JSON", "JSON", "TEXT"}
		numIn, numOut := "12.50", "12.5" // SQLite's NUMERIC affinity stores a REAL
		if pg {
			ddl = `CREATE TABLE vals (id int8 PRIMARY KEY, b bool, i int8, f float8, t text, by bytea,
				ts timestamptz, d date, n numeric, j jsonb, jt json, nul text)`
			types = []string{"INT8", "BOOL", "INT8", "FLOAT8", "TEXT", "BYTEA", "TIMESTAMPTZ", "DATE", "NUMERIC", "JSONB", "JSON", "TEXT"}
			numIn, numOut = "-123456789012345678901234567890.123456789000", "-123456789012345678901234567890.123456789000"
		}
		require.Zero(t, qOK(t, reg, ddl))

		// A time with a zone other than UTC: it is one instant, and comes back in UTC.
		cet := time.FixedZone("CET", 3600)
		when := time.Date(2024, 2, 29, 23, 59, 58, 123456000, cet)
		day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
		args := []*messages.Value{
			sqlvalue.Int(1), sqlvalue.Bool(true), sqlvalue.Int(-9007199254740993), sqlvalue.Float(1.25),
			sqlvalue.Text("héllo, 'world'"), sqlvalue.Bytes([]byte{0, 1, 2, 0xff}), sqlvalue.Time(when),
			sqlvalue.Time(day), sqlvalue.NumericValue(numIn), sqlvalue.JSON(`{"a": [1, 2.5, null]}`),
			sqlvalue.JSON(`{"kept":  "as is"}`), sqlvalue.Null(),
		}
		marks := make([]string, len(args))
		for i := range marks {
			marks[i] = ph(i + 1)
		}
		insert := "INSERT INTO vals VALUES (" + strings.Join(marks, ", ") + ")"
		require.EqualValues(t, 1, qOK(t, reg, insert, args...))

		// Through the client conversion: Go values, NULLs in every column.
		goArgs, err := sqlvalue.FromGoArgs(int64(2), (*bool)(nil), nil, nil, nil, []byte(nil), nil, nil, nil, nil, nil, nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, qOK(t, reg, insert, goArgs...))
		// Empty values are not NULL.
		goArgs, err = sqlvalue.FromGoArgs(3, false, 0, 0.0, "", []byte{}, nil, nil, sqlvalue.Numeric("0"), nil, nil, nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, qOK(t, reg, insert, goArgs...))

		r := qQuery(t, reg, &messages.Query{Sql: "SELECT * FROM vals ORDER BY id"})
		require.Nil(t, r.GetError())
		names := []string{"id", "b", "i", "f", "t", "by", "ts", "d", "n", "j", "jt", "nul"}
		require.Len(t, r.GetColumns(), len(names))
		for i, c := range r.GetColumns() {
			require.Equal(t, names[i], c.GetName())
			require.Equal(t, types[i], c.GetType(), "type of %s", names[i])
		}
		require.Len(t, r.GetRows(), 3)
		want := [][]*messages.Value{
			{sqlvalue.Int(1), sqlvalue.Bool(true), sqlvalue.Int(-9007199254740993), sqlvalue.Float(1.25),
				sqlvalue.Text("héllo, 'world'"), sqlvalue.Bytes([]byte{0, 1, 2, 0xff}), sqlvalue.Time(when.UTC()),
				sqlvalue.Time(day), sqlvalue.NumericValue(numOut), sqlvalue.JSON(`{"a": [1, 2.5, null]}`),
				sqlvalue.JSON(`{"kept":  "as is"}`), sqlvalue.Null()},
			{sqlvalue.Int(2), sqlvalue.Null(), sqlvalue.Null(), sqlvalue.Null(), sqlvalue.Null(), sqlvalue.Null(),
				sqlvalue.Null(), sqlvalue.Null(), sqlvalue.Null(), sqlvalue.Null(), sqlvalue.Null(), sqlvalue.Null()},
			{sqlvalue.Int(3), sqlvalue.Bool(false), sqlvalue.Int(0), sqlvalue.Float(0), sqlvalue.Text(""), sqlvalue.Bytes([]byte{}),
				sqlvalue.Null(), sqlvalue.Null(), sqlvalue.NumericValue("0"), sqlvalue.Null(), sqlvalue.Null(), sqlvalue.Null()},
		}
		for i, row := range r.GetRows() {
			for j, v := range row.GetValues() {
				require.True(t, proto.Equal(want[i][j], v), "row %d column %s: got %v, want %v", i+1, names[j], v, want[i][j])
			}
		}
		// In Go: the kinds a client sees.
		first := r.GetRows()[0].GetValues()
		require.Equal(t, when.UTC(), sqlvalue.ToGo(first[6]))
		require.Equal(t, time.UTC, sqlvalue.ToGo(first[6]).(time.Time).Location())
		require.Equal(t, sqlvalue.Numeric(numOut), sqlvalue.ToGo(first[8]))

		// rows_affected of an UPDATE and a DELETE.
		require.EqualValues(t, 2, qOK(t, reg, "UPDATE vals SET t = "+ph(1)+" WHERE id >= "+ph(2), sqlvalue.Text("x"), sqlvalue.Int(2)))
		require.EqualValues(t, 0, qOK(t, reg, "DELETE FROM vals WHERE id > 100"))
		// A query with no rows still has its columns.
		r = qQuery(t, reg, &messages.Query{Sql: "SELECT id, t FROM vals WHERE id > 100"})
		require.Nil(t, r.GetError())
		require.Len(t, r.GetColumns(), 2)
		require.Empty(t, r.GetRows())
	})
}

// The errors of Query and Exec, each with its code.
func TestQueryErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := queryRegistry(t, registry.Config{Database: b.url(t), Query: actors.QueryOptions{MaxRows: 2}})
		pg := b.name == "postgres"

		// Not connected: refused, saying to connect first.
		e := qQuery(t, reg, &messages.Query{Sql: "SELECT 1"}).GetError()
		requireCode(t, messages.Code_CODE_NOT_CONNECTED, e)
		require.Contains(t, e.GetMessage(), "main database is not connected: connect it first")
		requireCode(t, messages.Code_CODE_NOT_CONNECTED, qExec(t, reg, &messages.Exec{Sql: "SELECT 1"}).GetError())
		// A database the registry does not have.
		e = qQuery(t, reg, &messages.Query{Target: &messages.Target{Database: "nope"}, Sql: "SELECT 1"}).GetError()
		requireCode(t, messages.Code_CODE_UNKNOWN_DATABASE, e)
		require.Equal(t, "nope", e.GetDatabase())
		requireCode(t, messages.Code_CODE_UNKNOWN_DATABASE,
			qExec(t, reg, &messages.Exec{Target: &messages.Target{Database: "nope"}, Sql: "SELECT 1"}).GetError())

		require.NoError(t, reg.Connect(testCtx(t)))
		requireCode(t, messages.Code_CODE_UNKNOWN_DATABASE,
			qQuery(t, reg, &messages.Query{Target: &messages.Target{Database: "nope"}, Sql: "SELECT 1"}).GetError())

		// Server errors: the server's message, and the SQLSTATE on PostgreSQL.
		e = qQuery(t, reg, &messages.Query{Sql: "SELECT * FROM missing_table"}).GetError()
		requireCode(t, messages.Code_CODE_QUERY, e)
		if pg {
			require.Equal(t, "42P01", e.GetSqlstate())
			require.Contains(t, e.GetMessage(), `relation "missing_table" does not exist`)
		} else {
			require.Contains(t, e.GetMessage(), "no such table: missing_table")
		}
		qOK(t, reg, "CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT)")
		require.EqualValues(t, 3, qOK(t, reg, "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, "+ph(1)+")", sqlvalue.Text(strings.Repeat("x", 4096))))
		e = qExec(t, reg, &messages.Exec{Sql: "INSERT INTO items VALUES (1, 'again')"}).GetError()
		requireCode(t, messages.Code_CODE_QUERY, e)
		if pg {
			require.Equal(t, "23505", e.GetSqlstate())
		} else {
			require.Contains(t, e.GetMessage(), "UNIQUE constraint failed")
		}
		// Malformed: empty SQL, an argument that cannot be sent.
		requireCode(t, messages.Code_CODE_INVALID_ARGUMENT, qExec(t, reg, &messages.Exec{Sql: " "}).GetError())
		requireCode(t, messages.Code_CODE_INVALID_ARGUMENT, qQuery(t, reg, &messages.Query{Sql: "SELECT " + ph(1),
			Args: []*messages.Value{sqlvalue.NumericValue("twelve")}}).GetError())

		// Row limit: the configured default (2), then the request's own.
		e = qQuery(t, reg, &messages.Query{Sql: "SELECT id FROM items"}).GetError()
		requireCode(t, messages.Code_CODE_LIMIT_EXCEEDED, e)
		require.Contains(t, e.GetMessage(), "max_rows=2")
		r := qQuery(t, reg, &messages.Query{Sql: "SELECT id FROM items", MaxRows: 3})
		require.Nil(t, r.GetError())
		require.Len(t, r.GetRows(), 3)
		// Byte limit: the 4 KiB value is over 4000 bytes; the small ones are not.
		e = qQuery(t, reg, &messages.Query{Sql: "SELECT body FROM items ORDER BY id", MaxRows: 10, MaxBytes: 4000}).GetError()
		requireCode(t, messages.Code_CODE_LIMIT_EXCEEDED, e)
		require.Contains(t, e.GetMessage(), "max_bytes=4000")
		r = qQuery(t, reg, &messages.Query{Sql: "SELECT body FROM items WHERE id < 3 ORDER BY id", MaxBytes: 4000})
		require.Nil(t, r.GetError())
		// A limit above 3 MiB is capped, not refused.
		r = qQuery(t, reg, &messages.Query{Sql: "SELECT body FROM items ORDER BY id", MaxRows: 10, MaxBytes: 1 << 40})
		require.Nil(t, r.GetError())
		require.Len(t, r.GetRows(), 3)
	})
}

// Extra databases are addressed by target.
func TestQueryExtraDatabase(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := queryRegistry(t, registry.Config{
			Database: b.url(t),
			Extra:    map[string]string{"analytics": "sqlite:///" + filepath.Join(t.TempDir(), "analytics.db")},
		})
		require.NoError(t, reg.Connect(testCtx(t)))
		an := &messages.Target{Database: "analytics"}
		r := qExec(t, reg, &messages.Exec{Target: an, Sql: "CREATE TABLE hits (n INTEGER)"})
		require.Nil(t, r.GetError())
		r = qExec(t, reg, &messages.Exec{Target: an, Sql: "INSERT INTO hits VALUES ($1), ($2)", Args: []*messages.Value{sqlvalue.Int(1), sqlvalue.Int(2)}})
		require.Nil(t, r.GetError())
		require.EqualValues(t, 2, r.GetRowsAffected())
		require.EqualValues(t, 3, qCount(t, reg, an, "SELECT sum(n) FROM hits"))
		// Not on the main database.
		e := qQuery(t, reg, &messages.Query{Sql: "SELECT sum(n) FROM hits"}).GetError()
		requireCode(t, messages.Code_CODE_QUERY, e)
		require.Equal(t, "", e.GetDatabase())
		// The target "" is the main database.
		require.EqualValues(t, 1, qCount(t, reg, &messages.Target{}, "SELECT 1"))
		// Errors name the extra database.
		e = qQuery(t, reg, &messages.Query{Target: an, Sql: "SELECT * FROM nothing"}).GetError()
		requireCode(t, messages.Code_CODE_QUERY, e)
		require.Equal(t, "analytics", e.GetDatabase())
	})
}

// blocker makes statements of one dialect wait for something the test
// holds, and tells when they do.
type blocker struct {
	// sql waits while the blocker is held.
	sql string
	// hold takes what sql waits for; release gives it back.
	hold, release func()
	// waiting reports how many statements wait for it.
	waiting func() int
}

// newBlocker: on PostgreSQL an advisory lock the test holds on its own
// connection (sql waits on the server, seen in pg_locks); on SQLite the
// pool's only connection (sql waits for it in database/sql, seen in its
// WaitCount).
func newBlocker(t *testing.T, b backend, url string, db *sql.DB) *blocker {
	t.Helper()
	ctx := testCtx(t)
	if b.name != "postgres" {
		var conn *sql.Conn
		var base int64
		return &blocker{
			sql: "SELECT 1",
			hold: func() {
				var err error
				conn, err = db.Conn(ctx)
				require.NoError(t, err)
				base = db.Stats().WaitCount
			},
			release: func() { require.NoError(t, conn.Close()) },
			waiting: func() int { return int(db.Stats().WaitCount - base) },
		}
	}
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return &blocker{
		sql:     "SELECT pg_advisory_xact_lock(4242)",
		hold:    func() { _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(4242)"); require.NoError(t, err) },
		release: func() { _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock(4242)"); require.NoError(t, err) },
		waiting: func() int {
			var n int
			require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
				AND objid = 4242 AND NOT granted
				AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n))
			return n
		},
	}
}

// waitBlocked waits until n statements wait for the blocker.
func (bl *blocker) waitBlocked(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return bl.waiting() >= n }, 10*time.Second, 5*time.Millisecond,
		"%d statements waiting for the blocker", n)
}

// With one worker and a queue of one: the first statement runs (held), the
// second waits, the third is refused at once; the database actor keeps
// answering meanwhile. A deadline that passes while a statement runs is
// CODE_TIMEOUT, one that passes while it waits in the queue is CODE_TIMEOUT
// without running, and the worker is free afterwards.
func TestQueryOverloadAndTimeout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		if b.name != "postgres" {
			url += "?pool_size=1&max_overflow=0" // one connection, for the blocker to hold
		}
		reg := queryRegistry(t, registry.Config{Database: url, Query: actors.QueryOptions{Workers: 1, Queue: 1}})
		require.NoError(t, reg.Connect(testCtx(t)))
		qOK(t, reg, "CREATE TABLE log (n INTEGER)")
		bl := newBlocker(t, b, url, reg.Database().DB())
		sys := reg.System()

		bl.hold()
		first := request.Send(sys, reg.PID(), &messages.Query{Sql: bl.sql}, nil, nil)
		defer first.Close()
		bl.waitBlocked(t, 1) // on the worker, running
		// The mailbox is not blocked by the running statement.
		st, ok := qAsk(t, reg, &messages.GetStatus{}).(*messages.Status)
		require.True(t, ok)
		require.Nil(t, st.GetError())
		require.True(t, st.GetConnected())
		require.EqualValues(t, 1, st.GetRefCount())
		second := request.Send(sys, reg.PID(), &messages.Exec{Sql: "INSERT INTO log VALUES (2)"}, nil, nil)
		defer second.Close()
		e := qQuery(t, reg, &messages.Query{Sql: "SELECT 3"}).GetError()
		requireCode(t, messages.Code_CODE_OVERLOADED, e)
		require.Contains(t, e.GetMessage(), "retry later")
		requireCode(t, messages.Code_CODE_OVERLOADED, qExec(t, reg, &messages.Exec{Sql: "INSERT INTO log VALUES (3)"}).GetError())
		bl.release()
		require.Nil(t, replyErr(t, qWait(t, first)))
		require.Nil(t, replyErr(t, qWait(t, second)))
		require.EqualValues(t, 2, qCount(t, reg, nil, "SELECT sum(n) FROM log"))

		// Deadlines: the running one ends at its deadline; the queued one,
		// whose deadline is earlier, is answered after it without running.
		bl.hold()
		now := time.Now()
		running := request.Send(sys, reg.PID(), &messages.Query{Sql: bl.sql, Deadline: deadline.Proto(now.Add(time.Second))}, nil, nil)
		defer running.Close()
		bl.waitBlocked(t, 1)
		queued := request.Send(sys, reg.PID(), &messages.Exec{Sql: "INSERT INTO log VALUES (100)", Deadline: deadline.Proto(now.Add(500 * time.Millisecond))}, nil, nil)
		defer queued.Close()
		e = replyErr(t, qWait(t, running))
		requireCode(t, messages.Code_CODE_TIMEOUT, e)
		require.Contains(t, e.GetMessage(), "deadline passed while the statement ran")
		e = replyErr(t, qWait(t, queued))
		requireCode(t, messages.Code_CODE_TIMEOUT, e)
		require.Contains(t, e.GetMessage(), "nothing was run")
		bl.release()
		// The worker is free again, and the queued insert never ran.
		require.EqualValues(t, 2, qCount(t, reg, nil, "SELECT sum(n) FROM log"))
	})
}

// Disconnecting a database cuts the statements running on its pool short
// (CODE_NOT_CONNECTED) instead of waiting for them.
func TestQueryCutByDisconnect(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		if b.name != "postgres" {
			url += "?pool_size=1&max_overflow=0"
		}
		reg := queryRegistry(t, registry.Config{Database: url})
		require.NoError(t, reg.Connect(testCtx(t)))
		bl := newBlocker(t, b, url, reg.Database().DB())
		bl.hold()
		running := request.Send(reg.System(), reg.PID(), &messages.Query{Sql: bl.sql}, nil, nil)
		defer running.Close()
		bl.waitBlocked(t, 1)
		closed, err := reg.Database().ForceDisconnect(testCtx(t))
		require.NoError(t, err)
		require.True(t, closed)
		e := replyErr(t, qWait(t, running))
		requireCode(t, messages.Code_CODE_NOT_CONNECTED, e)
		require.Contains(t, e.GetMessage(), "main database was disconnected while the statement ran")
		bl.release()
		requireCode(t, messages.Code_CODE_NOT_CONNECTED, qQuery(t, reg, &messages.Query{Sql: "SELECT 1"}).GetError())
	})
}

// No error of Query or Exec quotes the password of the database's URL,
// even when the statement itself contains it.
func TestQueryErrorsHaveNoPassword(t *testing.T) {
	const secret = "pw-S3cr3t-7781"
	u, err := url.Parse(testdb.NewPostgresDatabase(t)) // trust auth: any password is accepted
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), secret)
	reg := queryRegistry(t, registry.Config{Database: u.String()})
	require.NoError(t, reg.Connect(testCtx(t)))
	qOK(t, reg, "CREATE TABLE n (v int8)")
	var msgs []string
	for _, msg := range []any{
		&messages.Query{Sql: "SELECT '" + secret + "'::int8"},
		&messages.Query{Sql: `SELECT * FROM "` + secret + `"`},
		&messages.Exec{Sql: "INSERT INTO n VALUES ($1)", Args: []*messages.Value{sqlvalue.Text(secret)}},
		&messages.Exec{Sql: `SELECT "` + secret + `"`},
		&messages.Query{Sql: "SELECT pg_sleep(5) -- " + secret, Deadline: deadline.Proto(time.Now().Add(200 * time.Millisecond))},
	} {
		e := replyErr(t, qAsk(t, reg, msg))
		require.NotNil(t, e)
		msgs = append(msgs, e.GetMessage())
		require.NotContains(t, e.GetMessage(), secret)
		require.NotContains(t, e.String(), secret)
	}
	// The server quoted it; the reply has it scrubbed.
	require.Contains(t, msgs[0], `invalid input syntax for type bigint: "xxxxx"`)
	require.Contains(t, msgs[3], `column "xxxxx" does not exist`)
	requireCode(t, messages.Code_CODE_TIMEOUT, replyErr(t, qAsk(t, reg, &messages.Query{Sql: "SELECT pg_sleep(5)", Deadline: deadline.Proto(time.Now().Add(200 * time.Millisecond))})))
}

// On a force-rollback database, Query and Exec run in the rollback
// sandbox: a row written by Exec is seen by Query, and gone once the count
// returns to 0.
func TestQueryForceRollback(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg := queryRegistry(t, registry.Config{Database: b.url(t)}, registry.WithForceRollback(""))
		requireCode(t, messages.Code_CODE_NOT_CONNECTED, qExec(t, reg, &messages.Exec{Sql: "SELECT 1"}).GetError())
		require.NoError(t, reg.Connect(testCtx(t)))
		// DDL through the pool: it persists.
		_, err := reg.Database().DB().ExecContext(testCtx(t), "CREATE TABLE sb (n INTEGER)")
		require.NoError(t, err)

		require.EqualValues(t, 1, qOK(t, reg, "INSERT INTO sb VALUES ($1)", sqlvalue.Int(7)))
		require.EqualValues(t, 1, qCount(t, reg, nil, "SELECT count(*) FROM sb"))
		// A failing statement is rolled back to its savepoint: the sandbox goes on.
		requireCode(t, messages.Code_CODE_QUERY, qExec(t, reg, &messages.Exec{Sql: "INSERT INTO nope VALUES (1)"}).GetError())
		require.EqualValues(t, 7, qCount(t, reg, nil, "SELECT sum(n) FROM sb"))

		require.NoError(t, reg.Disconnect(testCtx(t)))
		require.NoError(t, reg.Connect(testCtx(t)))
		require.EqualValues(t, 0, qCount(t, reg, nil, "SELECT count(*) FROM sb"))
	})
}

// Closing the registry answers the statement running and the ones queued
// (CODE_CLOSED) and waits for its workers: Close returns, nothing leaks.
func TestQueryClose(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		if b.name != "postgres" {
			url += "?pool_size=1&max_overflow=0"
		}
		reg, err := registry.New(nil, registry.Config{Database: url, Query: actors.QueryOptions{Workers: 1, Queue: 4}})
		require.NoError(t, err)
		require.NoError(t, reg.Connect(testCtx(t)))
		bl := newBlocker(t, b, url, reg.Database().DB())
		bl.hold()
		running := request.Send(reg.System(), reg.PID(), &messages.Query{Sql: bl.sql}, nil, nil)
		defer running.Close()
		bl.waitBlocked(t, 1)
		queued := request.Send(reg.System(), reg.PID(), &messages.Exec{Sql: "SELECT 2"}, nil, nil)
		defer queued.Close()
		// Queued behind the two: the mailbox has handed both on before Close.
		qAsk(t, reg, &messages.GetStatus{})

		require.NoError(t, reg.Close(testCtx(t)))
		requireCode(t, messages.Code_CODE_CLOSED, replyErr(t, qWait(t, running)))
		requireCode(t, messages.Code_CODE_CLOSED, replyErr(t, qWait(t, queued)))
		bl.release()
	})
}

// A database shared from another registry answers under the name the
// sharer gives it.
func TestQuerySharedDatabase(t *testing.T) {
	sys := newSystem(t)
	owner := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	sharer := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)},
		registry.WithExtraDatabase("shared", owner.Database()))
	require.NoError(t, sharer.Connect(testCtx(t)))
	target := &messages.Target{Database: "shared"}
	r := qExec(t, sharer, &messages.Exec{Target: target, Sql: "CREATE TABLE s (n INTEGER)"})
	require.Nil(t, r.GetError())
	require.EqualValues(t, 1, qExec(t, sharer, &messages.Exec{Target: target, Sql: "INSERT INTO s VALUES (5)"}).GetRowsAffected())
	require.EqualValues(t, 5, qCount(t, sharer, target, "SELECT n FROM s"))
	// The owner's main database is the same database.
	require.EqualValues(t, 5, qCount(t, owner, nil, "SELECT n FROM s"))
	e := qQuery(t, sharer, &messages.Query{Target: target, Sql: "SELECT * FROM nothing"}).GetError()
	requireCode(t, messages.Code_CODE_QUERY, e)
	require.Equal(t, "shared", e.GetDatabase())
}

func TestQueryConfigErrors(t *testing.T) {
	url := "sqlite:///" + filepath.Join(t.TempDir(), "c.db")
	for _, q := range []actors.QueryOptions{{Workers: -1}, {Queue: -1}, {MaxBytes: 3<<20 + 1}} {
		_, err := registry.New(nil, registry.Config{Database: url, Query: q})
		require.ErrorIs(t, err, registry.ErrInvalidConfig, "%+v", q)
		require.ErrorContains(t, err, "Config.Query")
	}
	reg := queryRegistry(t, registry.Config{Database: url, Query: actors.QueryOptions{Workers: 2, Queue: 2, MaxRows: 1, MaxBytes: 3 << 20}})
	require.NoError(t, reg.Connect(testCtx(t)))
	requireCode(t, messages.Code_CODE_LIMIT_EXCEEDED, qQuery(t, reg, &messages.Query{Sql: "SELECT 1 UNION ALL SELECT 2"}).GetError())
}
