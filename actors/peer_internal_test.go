package actors

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/inproc"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

// PeerStatement is what a registry wraps a peer's statement in.
type PeerStatement = inproc.PeerStatement

// A database actor on a pool of one connection, so that what one
// statement leaves on its connection is what the next one finds.
type dialect struct {
	name string
	url  func(t *testing.T) string
}

var dialects = []dialect{
	{"sqlite", func(t *testing.T) string {
		return "sqlite:///" + filepath.Join(t.TempDir(), "p.db") + "?pool_size=1"
	}},
	{"postgres", func(t *testing.T) string { return withParam(t, testdb.NewPostgresDatabase(t), "pool_max_conns", "1") }},
}

func withParam(t *testing.T, dsn, k, v string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func eachDialect(t *testing.T, f func(t *testing.T, d dialect)) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) { f(t, d) })
	}
}

func bareExec(t *testing.T, sys *actor.ActorSystem, s *State, sql string, args ...any) *messages.ExecResult {
	t.Helper()
	vals, err := sqlvalue.FromGoArgs(args...)
	require.NoError(t, err)
	r := ask1(t, sys, s.PID(), &messages.Exec{Sql: sql, Args: vals}).(*messages.ExecResult)
	require.Nil(t, r.GetError(), sql)
	return r
}

func bareQuery(t *testing.T, sys *actor.ActorSystem, s *State, sql string) *messages.QueryResult {
	t.Helper()
	r := ask1(t, sys, s.PID(), &messages.Query{Sql: sql}).(*messages.QueryResult)
	require.Nil(t, r.GetError(), sql)
	return r
}

func scalar(t *testing.T, sys *actor.ActorSystem, s *State, sql string) string {
	t.Helper()
	r := bareQuery(t, sys, s, sql)
	require.Len(t, r.GetRows(), 1, sql)
	v := r.GetRows()[0].GetValues()[0]
	switch {
	case v.GetText() != "":
		return v.GetText()
	default:
		return fmt.Sprint(v.GetInt())
	}
}

// peerErr sends req from peer with the given grant and returns the reply's
// error.
func peerErr(t *testing.T, sys *actor.ActorSystem, s *State, p PeerStatement) *messages.Error {
	t.Helper()
	return queryErr(t, ask1(t, sys, s.PID(), &p))
}

// A peer without the write grant cannot write, whatever it sends, and the
// connection it used comes back writable.
func TestPeerReadOnly(t *testing.T) {
	eachDialect(t, func(t *testing.T, d dialect) {
		sys, s := spawnQuery(t, d.url(t), StateOptions{})
		bareExec(t, sys, s, "CREATE TABLE t (n INTEGER)")
		bareExec(t, sys, s, "INSERT INTO t VALUES (1), (2)")
		pg := d.name == "postgres"

		q := func(sql string) *messages.Query { return &messages.Query{Sql: sql} }
		e := func(sql string) *messages.Exec { return &messages.Exec{Sql: sql} }
		attacks := []proto.Message{
			e("INSERT INTO t VALUES (3)"),
			q("INSERT INTO t VALUES (3) RETURNING n"),
			e("DELETE FROM t"),
			q("COMMIT; DELETE FROM t"),
			e("COMMIT; DELETE FROM t"),
			q("SELECT 1; DELETE FROM t"),
			e("SELECT 1; DELETE FROM t"),
			q("RESET ROLE; DELETE FROM t"),
			e("RESET ROLE; DELETE FROM t"),
			q("SET TRANSACTION READ WRITE; DELETE FROM t"),
			e("SET TRANSACTION READ WRITE; DELETE FROM t"),
			e("SELECT 1;\nDELETE FROM t;"),
			&messages.Exec{Sql: "INSERT INTO t VALUES ($1)", Args: []*messages.Value{sqlvalue.Int(3)}},
			&messages.Exec{Sql: "DELETE FROM t WHERE n > $1; DELETE FROM t", Args: []*messages.Value{sqlvalue.Int(0)}},
		}
		if pg {
			attacks = append(attacks,
				q("WITH d AS (DELETE FROM t RETURNING n) SELECT n FROM d"),
				e("WITH d AS (DELETE FROM t RETURNING n) SELECT n FROM d"),
				q("SELECT set_config('transaction_read_only', 'off', true), (SELECT count(*) FROM t)"),
				e("CREATE TABLE u (n int)"),
			)
		} else {
			attacks = append(attacks,
				q("WITH d AS (SELECT 1) DELETE FROM t"),
				e("WITH d AS (SELECT 1) INSERT INTO t VALUES (3)"),
				q("WITH d AS (SELECT 1) DELETE FROM t RETURNING n"),
				e("PRAGMA query_only=0; DELETE FROM t"),
				q("PRAGMA query_only = 0"),
				q("SELECT 1; PRAGMA query_only=0; DELETE FROM t"),
				e("ATTACH DATABASE '"+filepath.Join(t.TempDir(), "x.db")+"' AS x"),
				q("/* ; */ SELECT 1"),
				q("  -- a comment\n  DELETE FROM t"),
				e("CREATE TABLE u (n INTEGER)"),
				e("CREATE TEMP TABLE u (n INTEGER)"),
			)
		}
		for _, a := range attacks {
			err := peerErr(t, sys, s, PeerStatement{Request: a, Peer: "p"})
			require.NotNil(t, err, "%v", a)
			if !pg {
				require.Contains(t, []messages.Code{messages.Code_CODE_PERMISSION_DENIED, messages.Code_CODE_QUERY}, err.GetCode(), "%v: %s", a, err.GetMessage())
			}
		}
		require.Equal(t, "2", scalar(t, sys, s, "SELECT count(*) FROM t"))
		if !pg {
			// Refused on its text, before anything ran: said plainly.
			err := peerErr(t, sys, s, PeerStatement{Request: e("DELETE FROM t"), Peer: "p"})
			require.ErrorIs(t, err, messages.ErrPermissionDenied)
			require.Contains(t, err.GetMessage(), "must start with SELECT, WITH or VALUES")
			err = peerErr(t, sys, s, PeerStatement{Request: q("SELECT ';'"), Peer: "p"})
			require.ErrorIs(t, err, messages.ErrPermissionDenied)
			require.Contains(t, err.GetMessage(), "pass values holding ';' as arguments")
			// With the write grant it is an ordinary statement.
			require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: e("CREATE TABLE w (n INTEGER)"), Peer: "p", Write: true}))
		}

		// Reading works, trailing ';' and comments included.
		for _, sql := range []string{"SELECT n FROM t ORDER BY n", "  /* c */ -- c\n select n from t;; ", "VALUES (1)",
			"WITH x AS (SELECT n FROM t) SELECT n FROM x"} {
			r := ask1(t, sys, s.PID(), &PeerStatement{Request: q(sql), Peer: "p"}).(*messages.QueryResult)
			require.Nil(t, r.GetError(), sql)
			require.NotEmpty(t, r.GetRows(), sql)
		}
		args := []*messages.Value{sqlvalue.Int(1)}
		where := "SELECT n FROM t WHERE n = ?"
		if pg {
			where = "SELECT n FROM t WHERE n = $1"
		}
		r := ask1(t, sys, s.PID(), &PeerStatement{Request: &messages.Query{Sql: where, Args: args}, Peer: "p"}).(*messages.QueryResult)
		require.Nil(t, r.GetError())
		require.Len(t, r.GetRows(), 1)
		x := ask1(t, sys, s.PID(), &PeerStatement{Request: e("SELECT n FROM t"), Peer: "p"}).(*messages.ExecResult)
		require.Nil(t, x.GetError())

		// The one connection is back to normal: a local statement writes.
		bareExec(t, sys, s, "INSERT INTO t VALUES (3)")
		require.Equal(t, "3", scalar(t, sys, s, "SELECT count(*) FROM t"))
		if pg {
			require.Equal(t, "off", scalar(t, sys, s, "SHOW transaction_read_only"))
		} else {
			require.Equal(t, "0", scalar(t, sys, s, "PRAGMA query_only"))
		}
		// And a writing peer writes.
		require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: e("DELETE FROM t WHERE n = 3"), Peer: "p", Write: true}))
		require.Equal(t, "2", scalar(t, sys, s, "SELECT count(*) FROM t"))
	})
}

// pgAdmin runs maintenance SQL on dsn's database as the test's user.
func pgAdmin(t *testing.T, dsn string, sqls ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	for _, sql := range sqls {
		_, err := conn.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
}

// A peer's role applies: the server's GRANTs decide, current_user is the
// role, and the connection comes back as the pool's own user.
func TestPeerRole(t *testing.T) {
	admin := testdb.NewPostgresDatabase(t)
	dsn := withParam(t, admin, "pool_max_conns", "1")
	role := fmt.Sprintf("dbactor_peer_%d", time.Now().UnixNano())
	pgAdmin(t, admin,
		"CREATE TABLE open (n int)", "CREATE TABLE secret (s text)",
		"INSERT INTO open VALUES (1)", "INSERT INTO secret VALUES ('hidden')",
		`CREATE ROLE "`+role+`" NOLOGIN`, `GRANT SELECT ON open TO "`+role+`"`)
	t.Cleanup(func() { pgAdmin(t, admin, `DROP OWNED BY "`+role+`"`, `DROP ROLE "`+role+`"`) })
	sys, s := spawnQuery(t, dsn, StateOptions{})
	user := scalar(t, sys, s, "SELECT current_user")

	for _, write := range []bool{false, true} {
		as := func(req proto.Message) PeerStatement {
			return PeerStatement{Request: req, Peer: "p", Role: role, Write: write}
		}
		r := ask1(t, sys, s.PID(), ptr(as(&messages.Query{Sql: "SELECT current_user, n FROM open"}))).(*messages.QueryResult)
		require.Nil(t, r.GetError())
		require.Equal(t, role, r.GetRows()[0].GetValues()[0].GetText())

		err := peerErr(t, sys, s, as(&messages.Query{Sql: "SELECT s FROM secret"}))
		require.ErrorIs(t, err, messages.ErrQuery)
		require.Equal(t, "42501", err.GetSqlstate(), err.GetMessage())
		require.Contains(t, err.GetMessage(), "permission denied")
		// Only SELECT was granted: writing fails even with the write grant.
		err = peerErr(t, sys, s, as(&messages.Exec{Sql: "INSERT INTO open VALUES (2)"}))
		if write {
			require.Equal(t, "42501", err.GetSqlstate(), err.GetMessage())
		} else {
			require.Equal(t, "25006", err.GetSqlstate(), err.GetMessage()) // read-only transaction
		}
		for _, sql := range []string{"RESET ROLE; SELECT s FROM secret", "SET LOCAL ROLE NONE; DELETE FROM secret"} {
			require.NotNil(t, peerErr(t, sys, s, as(&messages.Exec{Sql: sql})), sql)
			require.NotNil(t, peerErr(t, sys, s, as(&messages.Query{Sql: sql})), sql)
		}
		// Session changes do not outlive the statement, even committed.
		require.Nil(t, peerErr(t, sys, s, as(&messages.Exec{Sql: "SELECT set_config('search_path', 'pg_catalog', false)"})))
		require.Nil(t, peerErr(t, sys, s, as(&messages.Exec{Sql: "SET SESSION AUTHORIZATION " + `"` + role + `"`})))
		require.Nil(t, peerErr(t, sys, s, as(&messages.Exec{Sql: "SET ROLE pg_monitor"})))
		require.Equal(t, user, scalar(t, sys, s, "SELECT current_user"))
		require.Equal(t, user, scalar(t, sys, s, "SELECT session_user"))
		require.Equal(t, `"$user", public`, scalar(t, sys, s, "SHOW search_path"))
		require.Equal(t, "off", scalar(t, sys, s, "SHOW transaction_read_only"))
	}

	// The role is a parameter, never SQL text.
	err := peerErr(t, sys, s, PeerStatement{Request: &messages.Query{Sql: "SELECT 1"}, Peer: "p", Role: `x', true); DROP TABLE open; --`})
	require.ErrorIs(t, err, messages.ErrQuery)
	require.Contains(t, err.GetMessage(), "does not exist")
	require.Equal(t, "1", scalar(t, sys, s, "SELECT count(*) FROM open"))
}

func ptr(p PeerStatement) *PeerStatement { return &p }

// What a peer's statement leaves on its session beyond a rollback (a
// prepared statement, a session lock, temporary tables) does not reach the
// next user of the connection.
func TestPeerSessionReset(t *testing.T) {
	dsn := withParam(t, withParam(t, testdb.NewPostgresDatabase(t), "pool_max_conns", "1"), "isolation_level", "SERIALIZABLE")
	sys, s := spawnQuery(t, dsn, StateOptions{})
	backend := scalar(t, sys, s, "SELECT pg_backend_pid()")

	// What the URL set for the session stays: it is the reset's default.
	require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Exec{Sql: "SELECT 1"}, Peer: "p"}))
	require.Equal(t, "serializable", scalar(t, sys, s, "SHOW default_transaction_isolation"))
	require.Equal(t, backend, scalar(t, sys, s, "SELECT pg_backend_pid()"), "a reset connection is kept")

	require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Exec{Sql: "SELECT pg_advisory_lock(7)"}, Peer: "p"}))
	require.Equal(t, "0", scalar(t, sys, s, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"))
	require.Equal(t, backend, scalar(t, sys, s, "SELECT pg_backend_pid()"), "a reset connection is kept")

	// A prepared statement could stand in for one of pgx's: the connection
	// that has one is discarded.
	require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Exec{Sql: "PREPARE mine AS SELECT 1"}, Peer: "p"}))
	require.Equal(t, "0", scalar(t, sys, s, "SELECT count(*) FROM pg_prepared_statements WHERE from_sql"))
	require.NotEqual(t, backend, scalar(t, sys, s, "SELECT pg_backend_pid()"))

	// DEALLOCATE drops what pgx prepared (read-only transactions allow
	// it, and no rollback undoes it), which the pool's next user of the
	// connection would fail on: the connection is discarded.
	backend = scalar(t, sys, s, "SELECT pg_backend_pid()")
	require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Exec{Sql: "DEALLOCATE ALL"}, Peer: "p"}))
	require.NotEqual(t, backend, scalar(t, sys, s, "SELECT pg_backend_pid()"))
	require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Exec{Sql: "DEALLOCATE ALL"}, Peer: "p", Write: true, Role: scalar(t, sys, s, "SELECT current_user")}))
	require.Equal(t, "1", scalar(t, sys, s, "SELECT 1"))

	// The same for one of pgx's statements dropped by name in a Query: the
	// peer's text goes unnamed, so no statement of its own makes up for
	// the one dropped in the session's count.
	backend = scalar(t, sys, s, "SELECT pg_backend_pid()")
	name := scalar(t, sys, s, "SELECT name FROM pg_prepared_statements WHERE statement = 'SELECT pg_backend_pid()'")
	_ = peerErr(t, sys, s, PeerStatement{Request: &messages.Query{Sql: "DEALLOCATE " + name}, Peer: "p"})
	require.NotEqual(t, backend, scalar(t, sys, s, "SELECT pg_backend_pid()"), "the connection that lost a statement of pgx's is discarded")
	require.Equal(t, "0", scalar(t, sys, s, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'DEALLOCATE%'"))

	// A temporary table would hide a table of the same name from the next
	// user: a writing peer with a role may create one, and it goes.
	user := scalar(t, sys, s, "SELECT current_user")
	require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Exec{Sql: "CREATE TEMP TABLE shadow (n int)"}, Peer: "p", Write: true, Role: user}))
	require.Equal(t, "0", scalar(t, sys, s, "SELECT count(*) FROM pg_class WHERE relname = 'shadow'"))
}

// prepareCounter counts pgx's Prepare calls (named or unnamed) by text.
type prepareCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *prepareCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (c *prepareCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *prepareCounter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, d pgx.TracePrepareStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[d.SQL]++
	return ctx
}
func (c *prepareCounter) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

func (c *prepareCounter) count(sql string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[sql]
}

// A connection remembers what a peer's short statement is (one describe
// for many runs), but not a long one: pgx's caches are keyed by the text,
// and a peer's texts of up to MaxSQL each would hold that much of this
// node's memory per entry. A long text is described on every run — Query
// and Exec, by a read-only peer, a writing one, one with a role, and on a
// force-rollback database — while a local statement's is not.
func TestPeerLongStatementNotCached(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		t.Run(fmt.Sprintf("force rollback %v", sandbox), func(t *testing.T) {
			counter := &prepareCounter{n: map[string]int{}}
			dsn := withParam(t, testdb.NewPostgresDatabase(t), "pool_max_conns", "1")
			sys, s := spawnQuery(t, dsn, StateOptions{ForceRollback: sandbox, Instrument: Instrumentation{
				QueryTracer: func(string) pgx.QueryTracer { return counter },
			}})
			user := scalar(t, sys, s, "SELECT current_user")
			peers := []PeerStatement{{Peer: "writer", Write: true}}
			if !sandbox { // a force-rollback database refuses constrained statements
				peers = append(peers, PeerStatement{Peer: "reader"}, PeerStatement{Peer: "role", Write: true, Role: user})
			}
			pad := " /* " + strings.Repeat("x", peerCachedSQL) + " */"
			for _, p := range peers {
				for _, sql := range []string{"SELECT $1::int AS n /* " + p.Peer + " */", "SELECT $1::int AS n /* " + p.Peer + " */" + pad} {
					for _, exec := range []bool{false, true} {
						if exec && p.Peer == "reader" {
							continue
						}
						before := counter.count(sql)
						for i := range 3 {
							p.Request = &messages.Query{Sql: sql, Args: mustArgs(t, i)}
							if exec {
								p.Request = &messages.Exec{Sql: sql, Args: mustArgs(t, i)}
							}
							require.Nil(t, peerErr(t, sys, s, p), "%s, %d bytes", p.Peer, len(sql))
						}
						described := counter.count(sql) - before
						if len(sql) > peerCachedSQL {
							require.Equal(t, 3, described, "%s (exec %v): a long text is described on every run", p.Peer, exec)
						} else {
							require.LessOrEqual(t, described, 1, "%s (exec %v): a short text is remembered", p.Peer, exec)
						}
					}
				}
			}
			// A local statement of any length is the pool's own to cache.
			long := "SELECT $1::int AS n /* local */" + pad
			for i := range 3 {
				r := ask1(t, sys, s.PID(), &messages.Query{Sql: long, Args: mustArgs(t, i)}).(*messages.QueryResult)
				require.Nil(t, r.GetError())
			}
			require.LessOrEqual(t, counter.count(long), 1)
		})
	}
}

// A peer may not run a prepared statement of the pool's own code by
// sending its name as SQL (pgx runs a statement a text names before it
// looks at anything else): refused, whatever the peer's grant.
func TestPeerNamesPoolStatement(t *testing.T) {
	dsn := withParam(t, testdb.NewPostgresDatabase(t), "pool_max_conns", "1")
	sys, s := spawnQuery(t, dsn, StateOptions{})
	local := "SELECT 'local statement'::text"
	require.Equal(t, "local statement", scalar(t, sys, s, local))
	name := scalar(t, sys, s, "SELECT name FROM pg_prepared_statements WHERE statement = $$"+local+"$$")
	require.True(t, strings.HasPrefix(name, "stmtcache_"), name)
	for _, p := range []PeerStatement{{Peer: "r"}, {Peer: "w", Write: true}, {Peer: "wr", Write: true, Role: scalar(t, sys, s, "SELECT current_user")}} {
		for _, req := range []proto.Message{&messages.Query{Sql: name}, &messages.Exec{Sql: name}} {
			p.Request = req
			require.ErrorIs(t, peerErr(t, sys, s, p), messages.ErrPermissionDenied, "%s: %T naming %s", p.Peer, req, name)
		}
	}
	require.Equal(t, "local statement", scalar(t, sys, s, local), "the pool's statement is untouched")
}

// A peer's statement never becomes a prepared statement of the session:
// the same text run locally afterwards is the pool user's own, not one
// parsed under the peer's role (whose search_path finds another table).
func TestPeerStatementNotShared(t *testing.T) {
	admin := testdb.NewPostgresDatabase(t)
	dsn := withParam(t, admin, "pool_max_conns", "1")
	role := fmt.Sprintf("dbactor_peer_%d", time.Now().UnixNano())
	pgAdmin(t, admin,
		`CREATE ROLE "`+role+`" NOLOGIN`, `CREATE SCHEMA "`+role+`"`,
		"CREATE TABLE public.t (a int)", "INSERT INTO public.t VALUES (1)",
		`CREATE TABLE "`+role+`".t (b text)`, `GRANT USAGE ON SCHEMA "`+role+`" TO "`+role+`"`, `GRANT SELECT ON "`+role+`".t TO "`+role+`"`)
	t.Cleanup(func() {
		pgAdmin(t, admin, `DROP SCHEMA "`+role+`" CASCADE`, `DROP OWNED BY "`+role+`"`, `DROP ROLE "`+role+`"`)
	})
	sys, s := spawnQuery(t, dsn, StateOptions{})
	require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Query{Sql: "SELECT * FROM t"}, Peer: "p", Role: role}))
	require.Equal(t, "0", scalar(t, sys, s, "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT * FROM t'"))
	r := ask1(t, sys, s.PID(), &messages.Query{Sql: "SELECT * FROM t"}).(*messages.QueryResult)
	require.Nil(t, r.GetError(), "the local statement after the peer's")
	require.Equal(t, "a", r.GetColumns()[0].GetName(), "public.t, as the pool user sees it")
}

// A transaction's end shares its round trip with the session's reset: a
// COMMIT the server refuses (a deferred constraint) is the statement's
// error, nothing is committed, and the connection is reset and kept; a
// failed read-only statement is rolled back the same way.
func TestPeerEndOfTransaction(t *testing.T) {
	admin := testdb.NewPostgresDatabase(t)
	dsn := withParam(t, admin, "pool_max_conns", "1")
	pgAdmin(t, admin, "CREATE TABLE parent (id int PRIMARY KEY)",
		"CREATE TABLE child (p int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)")
	sys, s := spawnQuery(t, dsn, StateOptions{})
	backend := scalar(t, sys, s, "SELECT pg_backend_pid()")
	user := scalar(t, sys, s, "SELECT current_user")

	// The role makes a writing peer's statement run constrained.
	writer := func(sql string) *messages.Error {
		return peerErr(t, sys, s, PeerStatement{Request: &messages.Exec{Sql: sql, Args: mustArgs(t, 1)}, Peer: "p", Write: true, Role: user})
	}
	err := writer("INSERT INTO child VALUES ($1)")
	require.ErrorIs(t, err, messages.ErrQuery)
	require.Equal(t, "23503", err.GetSqlstate(), err.GetMessage()) // found by the COMMIT
	require.Equal(t, "0", scalar(t, sys, s, "SELECT count(*) FROM child"), "nothing committed")
	require.Equal(t, backend, scalar(t, sys, s, "SELECT pg_backend_pid()"), "a reset connection is kept")
	require.Equal(t, user, scalar(t, sys, s, "SELECT current_user"))

	require.Nil(t, writer("INSERT INTO parent VALUES ($1)"))
	require.Nil(t, writer("INSERT INTO child VALUES ($1)"))
	require.Equal(t, "1", scalar(t, sys, s, "SELECT count(*) FROM child"), "committed")

	// A read-only statement that fails half-way is rolled back.
	err = peerErr(t, sys, s, PeerStatement{Request: &messages.Query{Sql: "SELECT 1/0"}, Peer: "p"})
	require.Equal(t, "22012", err.GetSqlstate(), err.GetMessage())
	require.Equal(t, "off", scalar(t, sys, s, "SHOW transaction_read_only"))
	require.Equal(t, backend, scalar(t, sys, s, "SELECT pg_backend_pid()"), "a reset connection is kept")
}

func mustArgs(t *testing.T, args ...any) []*messages.Value {
	t.Helper()
	vals, err := sqlvalue.FromGoArgs(args...)
	require.NoError(t, err)
	return vals
}

// One peer at its cap waits, and is not refused; another peer and local
// statements still run meanwhile; the slot comes back however a statement
// ends.
func TestPeerCap(t *testing.T) {
	eachDialect(t, func(t *testing.T, d dialect) {
		sys, s := spawnQuery(t, strings.Replace(strings.Replace(d.url(t), "pool_size=1", "pool_size=4", 1), "pool_max_conns=1", "pool_max_conns=4", 1),
			StateOptions{Query: QueryOptions{Workers: 2}}) // PerPeer: 1
		g := armGate(t, sys, "held")
		pid := s.PID()
		a := func(sql string) *PeerStatement {
			return &PeerStatement{Request: &messages.Query{Sql: sql}, Peer: "a"}
		}
		first := request.Send(sys, pid, a("SELECT 1 AS held"), nil, nil)
		defer first.Close()
		g.wait(t)

		second := request.Send(sys, pid, a("SELECT 2"), nil, nil)
		defer second.Close()
		r := ask1(t, sys, pid, &PeerStatement{Request: &messages.Query{Sql: "SELECT 3"}, Peer: "b"}).(*messages.QueryResult)
		require.Nil(t, r.GetError())
		bareQuery(t, sys, s, "SELECT 4")
		// The second waits for the first, with a worker free.
		requireLoad(t, s, "a", load{running: 1, waiting: 1})
		requireUnanswered(t, second)

		g.release()
		require.Nil(t, queryErr(t, waitReply(t, first)))
		require.Nil(t, queryErr(t, waitReply(t, second)))
		require.Nil(t, queryErr(t, ask1(t, sys, pid, a("SELECT 5"))))

		// A crash gives the slot back.
		disarm := faults.For(sys).Arm(faults.QueryWorker, func(_ *actor.PID, msg any) {
			if q, ok := msg.(*messages.Query); ok && strings.Contains(q.GetSql(), "boom") {
				panic("boom")
			}
		})
		require.ErrorIs(t, queryErr(t, ask1(t, sys, pid, a("SELECT 'boom'"))), messages.ErrInternal)
		disarm()
		require.Nil(t, queryErr(t, ask1(t, sys, pid, a("SELECT 6"))))
		// So does a refusal after admission, and a statement expired.
		require.ErrorIs(t, queryErr(t, ask1(t, sys, pid, a("SELECT * FROM missing"))), messages.ErrQuery)
		require.Nil(t, queryErr(t, ask1(t, sys, pid, a("SELECT 7"))))
		past := &messages.Query{Sql: "SELECT 8", Deadline: deadline.Proto(time.Now().Add(-time.Second))}
		require.ErrorIs(t, queryErr(t, ask1(t, sys, pid, &PeerStatement{Request: past, Peer: "a"})), messages.ErrTimeout)
		require.Nil(t, queryErr(t, ask1(t, sys, pid, a("SELECT 9"))))

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.waitWorkers(ctx))
		s.queries.mu.Lock()
		require.Empty(t, s.queries.peers)
		s.queries.mu.Unlock()
	})
}

// A statement held when its pool closes gives its slot back too, and so
// does one queued behind it.
func TestPeerCapCut(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 1, PerPeer: 2, PerPeerQueue: 1}})
	g := armGate(t, sys, "held")
	pid := s.PID()
	first := request.Send(sys, pid, &PeerStatement{Request: &messages.Query{Sql: "SELECT 1 AS held"}, Peer: "a", Write: true}, nil, nil)
	defer first.Close()
	g.wait(t)
	second := request.Send(sys, pid, &PeerStatement{Request: &messages.Query{Sql: "SELECT 2"}, Peer: "a", Write: true}, nil, nil)
	defer second.Close()
	require.ErrorIs(t, queryErr(t, ask1(t, sys, pid, &PeerStatement{Request: &messages.Query{Sql: "SELECT 3"}, Peer: "a"})), messages.ErrQuotaExceeded)
	requireLoad(t, s, "a", load{running: 1, waiting: 1})
	require.True(t, ask1(t, sys, pid, &messages.Disconnect{}).(*messages.DisconnectResult).GetClosed())
	g.release()
	for _, p := range []*request.Pending{first, second} {
		require.ErrorIs(t, queryErr(t, waitReply(t, p)), messages.ErrNotConnected)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.waitWorkers(ctx))
	s.queries.mu.Lock()
	require.Empty(t, s.queries.peers)
	require.Zero(t, s.queries.workers, "workers outlive their pool")
	require.Empty(t, s.queries.parked)
	s.queries.mu.Unlock()
}

// SQL text beyond MaxSQL is refused, a local statement's too.
func TestMaxSQL(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{MaxSQL: 32}})
	long := "SELECT 1 /*" + strings.Repeat("x", 20) + "*/"
	require.Len(t, long, 33)
	for _, msg := range []any{
		&messages.Query{Sql: long}, &messages.Exec{Sql: long},
		&PeerStatement{Request: &messages.Query{Sql: long}, Peer: "p"},
	} {
		e := queryErr(t, ask1(t, sys, s.PID(), msg))
		require.ErrorIs(t, e, messages.ErrLimitExceeded)
		require.Contains(t, e.GetMessage(), "the SQL text is 33 bytes, more than the 32 allowed (MaxSQL)")
	}
	require.Nil(t, queryErr(t, ask1(t, sys, s.PID(), &messages.Query{Sql: long[:32]})))
	require.Equal(t, DefaultMaxSQL, QueryOptions{}.withDefaults().MaxSQL)
}

// Column names and types count toward max_bytes, even with no row.
func TestColumnsCountTowardMaxBytes(t *testing.T) {
	eachDialect(t, func(t *testing.T, d dialect) {
		sys, s := spawnQuery(t, d.url(t), StateOptions{})
		var sql string
		if d.name == "sqlite" {
			sql = `SELECT 1 AS "` + strings.Repeat("c", 5000) + `" WHERE 1 = 0`
		} else { // names are at most 63 bytes: many columns
			cols := make([]string, 40)
			for i := range cols {
				cols[i] = fmt.Sprintf(`1 AS "%02d%s"`, i, strings.Repeat("c", 61))
			}
			sql = "SELECT " + strings.Join(cols, ", ") + " WHERE false"
		}
		for _, msg := range []any{&messages.Query{Sql: sql, MaxBytes: 1024},
			&PeerStatement{Request: &messages.Query{Sql: sql, MaxBytes: 1024}, Peer: "p"}} {
			r := ask1(t, sys, s.PID(), msg).(*messages.QueryResult)
			require.ErrorIs(t, r.GetError(), messages.ErrLimitExceeded)
			require.Contains(t, r.GetError().GetMessage(), "max_bytes=1024")
			require.Empty(t, r.GetColumns())
		}
		r := ask1(t, sys, s.PID(), &messages.Query{Sql: sql, MaxBytes: 8192}).(*messages.QueryResult)
		require.Nil(t, r.GetError())
		require.LessOrEqual(t, proto.Size(r), 8192)
	})
}

// A 64 MiB value with max_bytes 1 MiB fails before it is read: the query
// allocates a fraction of it, fails with CODE_LIMIT_EXCEEDED, and the pool
// goes on serving.
func TestLargeValueNotRead(t *testing.T) {
	dsn := withParam(t, testdb.NewPostgresDatabase(t), "pool_max_conns", "2")
	sys, s := spawnQuery(t, dsn, StateOptions{})
	bareExec(t, sys, s, "CREATE TABLE big (b bytea)")
	bareExec(t, sys, s, "INSERT INTO big SELECT convert_to(repeat('x', 64 << 20), 'UTF8')")
	const sql = "SELECT b FROM big"

	for _, msg := range []any{
		&messages.Query{Sql: sql, MaxBytes: 1 << 20},
		&PeerStatement{Request: &messages.Query{Sql: sql, MaxBytes: 1 << 20}, Peer: "p"},
		&PeerStatement{Request: &messages.Exec{Sql: sql}, Peer: "p"},
	} {
		allocated, peak := measure(t, func() any { return ask1(t, sys, s.PID(), msg) })
		t.Logf("%T: %d KiB allocated, heap peak %d KiB above the start", msg, allocated>>10, peak>>10)
		reply := ask1(t, sys, s.PID(), msg)
		e := queryErr(t, reply)
		require.ErrorIs(t, e, messages.ErrLimitExceeded)
		if _, ok := reply.(*messages.QueryResult); ok {
			require.Contains(t, e.GetMessage(), "max_bytes=1048576")
		}
		require.Less(t, allocated, uint64(16<<20), "the value must not be read")
		// The pool serves on, both its connections.
		for range 3 {
			require.Equal(t, "1", scalar(t, sys, s, "SELECT count(*) FROM big"))
		}
	}
	r := ask1(t, sys, s.PID(), &messages.Query{Sql: "SELECT substr(b, 1, 3) FROM big"}).(*messages.QueryResult)
	require.Nil(t, r.GetError())
	require.Equal(t, []byte("xxx"), r.GetRows()[0].GetValues()[0].GetBytes())
}

// measure runs f and returns the bytes allocated meanwhile and the highest
// heap seen above the heap before it (sampled as often as the scheduler
// lets a goroutine read it).
func measure(t *testing.T, f func() any) (allocated, peak uint64) {
	t.Helper()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var high atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > high.Load() {
				high.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	f()
	close(done)
	<-sampled
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if h := high.Load(); h > before.HeapAlloc {
		peak = h - before.HeapAlloc
	}
	return after.TotalAlloc - before.TotalAlloc, peak
}

// A force-rollback database refuses what it cannot constrain, and runs a
// writing peer's statement in its sandbox as before.
func TestPeerOnForceRollback(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{ForceRollback: true})
	require.Nil(t, queryErr(t, ask1(t, sys, s.PID(), &messages.Exec{Sql: "CREATE TABLE t (n INTEGER)"})))
	e := queryErr(t, ask1(t, sys, s.PID(), &PeerStatement{Request: &messages.Query{Sql: "SELECT n FROM t"}, Peer: "p"}))
	require.ErrorIs(t, e, messages.ErrUnsupported)
	require.Contains(t, e.GetMessage(), "force rollback")
	require.Nil(t, queryErr(t, ask1(t, sys, s.PID(), &PeerStatement{Request: &messages.Exec{Sql: "INSERT INTO t VALUES (1)"}, Peer: "p", Write: true})))
	r := ask1(t, sys, s.PID(), &messages.Query{Sql: "SELECT count(*) FROM t"}).(*messages.QueryResult)
	require.EqualValues(t, 1, r.GetRows()[0].GetValues()[0].GetInt())
}

// A PostgreSQL force-rollback database refuses a peer's role as well.
func TestPeerRoleOnForceRollback(t *testing.T) {
	sys, s := spawnQuery(t, testdb.NewPostgresDatabase(t), StateOptions{ForceRollback: true})
	e := queryErr(t, ask1(t, sys, s.PID(), &PeerStatement{Request: &messages.Query{Sql: "SELECT 1"}, Peer: "p", Write: true, Role: "pg_monitor"}))
	require.ErrorIs(t, e, messages.ErrUnsupported)
	require.Nil(t, queryErr(t, ask1(t, sys, s.PID(), &PeerStatement{Request: &messages.Query{Sql: "SELECT 1"}, Peer: "p", Write: true})))
}

// A PeerStatement is answered with its Request's reply type whatever
// becomes of it, and one around anything but a Query or Exec is refused.
func TestPeerStatementReplies(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{})
	r := ask1(t, sys, s.PID(), &PeerStatement{Request: &messages.Connect{}, Peer: "p", Write: true}).(*messages.ConnectResult)
	require.ErrorIs(t, r.GetErrors()[0], messages.ErrInvalidArgument)
	require.EqualValues(t, 1, s.RefCount())
	bad := &messages.Query{Sql: "SELECT 1", Deadline: &timestamppb.Timestamp{Nanos: -1}}
	q := ask1(t, sys, s.PID(), &PeerStatement{Request: bad, Peer: "p"}).(*messages.QueryResult)
	require.ErrorIs(t, q.GetError(), messages.ErrInvalidArgument)
	// A nil one is dropped, and the actor carries on.
	sys.Root.Send(s.PID(), (*PeerStatement)(nil))
	sys.Root.Send(s.PID(), &PeerStatement{Peer: "p"})
	require.Nil(t, queryErr(t, ask1(t, sys, s.PID(), &PeerStatement{Request: &messages.Query{Sql: "SELECT 1"}, Peer: "p"})))
	s.Shutdown()
	x := ask1(t, sys, s.PID(), &PeerStatement{Request: &messages.Exec{Sql: "SELECT 1"}, Peer: "p"}).(*messages.ExecResult)
	require.ErrorIs(t, x.GetError(), messages.ErrClosed)
}

// logRecorder keeps the messages of the records it handles.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// A peer's statement on a superuser's connection is logged, once: its
// grant does not bound it there (the test server's user is a superuser;
// when it is not, nothing is logged).
func TestPeerOnSuperuserIsWarned(t *testing.T) {
	rec := &logRecorder{}
	sys, s := spawnQuery(t, withParam(t, testdb.NewPostgresDatabase(t), "pool_max_conns", "1"), StateOptions{Logger: slog.New(rec)})
	super := scalar(t, sys, s, "SELECT current_setting('is_superuser')") == "on"
	for range 3 {
		require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Query{Sql: "SELECT 1"}, Peer: "p"}))
	}
	want := 0
	if super {
		want = 1
	}
	require.Equal(t, want, rec.count("runs as a PostgreSQL superuser"))
}

// pgx deallocates the cached statements it invalidated (a failed statement
// invalidates its cached twin, whoever sent it) lazily, at its next call on
// the connection: inside a peer's transaction that must not look like the
// peer's DEALLOCATE, or any peer could have connections thrown away at will.
func TestPeerSessionKeptAcrossPgxInvalidation(t *testing.T) {
	dsn := withParam(t, testdb.NewPostgresDatabase(t), "pool_max_conns", "1")
	sys, s := spawnQuery(t, dsn, StateOptions{})
	backend := scalar(t, sys, s, "SELECT pg_backend_pid()") // cached by pgx
	// The peer sends the text of that cached statement with an argument
	// too many: it fails, and pgx invalidates its cached twin.
	require.NotNil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Query{Sql: "SELECT pg_backend_pid()", Args: mustArgs(t, 0)}, Peer: "p"}))
	// The next peer statement is innocuous: the connection stays.
	require.Nil(t, peerErr(t, sys, s, PeerStatement{Request: &messages.Query{Sql: "SELECT 1"}, Peer: "p"}))
	require.Equal(t, backend, scalar(t, sys, s, "SELECT pg_backend_pid()"))
}

// A peer's statement may not detach its transaction: PREPARE TRANSACTION
// is refused before it runs, however it is spelled.
func TestPeerPrepareTransactionRefused(t *testing.T) {
	sys, s := spawnQuery(t, withParam(t, testdb.NewPostgresDatabase(t), "pool_max_conns", "1"), StateOptions{})
	for _, write := range []bool{false, true} {
		err := peerErr(t, sys, s, PeerStatement{Request: &messages.Exec{Sql: "/* x /* y */ */ prepare transaction 'gid'"}, Peer: "p", Write: write, Role: scalar(t, sys, s, "SELECT current_user")})
		require.ErrorIs(t, err, messages.ErrPermissionDenied)
		require.Contains(t, err.GetMessage(), "PREPARE TRANSACTION")
	}
}

// A pool's description cache (used, in the default exec mode, by peers'
// unnamed statements only) keeps peerDescriptions entries unless the URL
// sets its size or makes CacheDescribe the pool's own mode.
func TestDescriptionCacheLimited(t *testing.T) {
	base := testdb.NewPostgresDatabase(t)
	for _, c := range []struct {
		dsn  string
		want int
	}{
		{base, peerDescriptions},
		{withParam(t, base, "description_cache_capacity", "300"), 300},
		{withParam(t, base, "default_query_exec_mode", "cache_describe"), 512},
	} {
		_, s := spawnQuery(t, c.dsn, StateOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := s.Pool().Acquire(ctx)
		require.NoError(t, err)
		require.Equal(t, c.want, conn.Conn().Config().DescriptionCacheCapacity, c.dsn)
		conn.Release()
		cancel()
	}
}
