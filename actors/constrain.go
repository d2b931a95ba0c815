package actors

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/messages"
)

// How a peer's statement is held to its grant (inproc.PeerStatement).
//
// PostgreSQL: a statement that must be read-only or run as a role runs on
// a connection of its own, in a transaction begun READ ONLY (or READ
// WRITE, for a role with the write grant), with the role set by
// set_config('role', $1, true), which ends with the transaction. The
// statement itself goes by the extended protocol, whose Parse refuses a
// string of several statements, so "COMMIT; DELETE …" or "RESET ROLE; …"
// cannot leave the transaction or the role. Then the transaction ends and
// the session is put back in order, in one round trip, before the
// connection goes back to the pool, or the connection is discarded if
// that fails, so that nothing the statement changed for the session
// reaches the next user of the connection:
//
//   - A read-only transaction is rolled back, which undoes what a
//     statement can change for the session inside one (SET, set_config,
//     SET ROLE, SET SESSION AUTHORIZATION, LISTEN, cursors): what remains
//     is what no rollback undoes, session advisory locks (released) and
//     prepared statements: one made by SQL PREPARE, which could stand in
//     for one of pgx's, or one of pgx's dropped by DEALLOCATE, which its
//     next use would fail on, has the connection discarded.
//   - A writing transaction is committed, and the session is reset in full
//     (resetSQL) before the same checks.
//
// A read-only statement costs three round trips: BEGIN, the statement,
// and the end.

// SQLite has no roles (Role is ignored). A read-only statement must be one
// SELECT, WITH or VALUES statement (checked on its text, since modernc runs
// every statement of a string) and runs on a connection of its own with
// PRAGMA query_only on, which is turned off again before the connection
// goes back to the pool (or the connection is discarded).
//
// A force-rollback database runs everything in one transaction that cannot
// be made read-only: it refuses constrained statements (CODE_UNSUPPORTED).

// bodySlack is what a query's wire messages may have beyond its max_bytes:
// the protocol's framing of a row, and error or notice messages.
const bodySlack = 64 << 10

// resetTimeout bounds putting a connection back in order after a peer's
// statement, which runs even when the statement's deadline has passed.
const resetTimeout = 5 * time.Second

// resetSQL puts a PostgreSQL session back as it was when it connected,
// after a committed transaction, except for the protocol-level prepared
// statements of pgx's cache (what DISCARD ALL would also drop, behind
// pgx's back).
const resetSQL = "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; UNLISTEN *; DISCARD TEMP"

// checkSQL releases the session's advisory locks and counts its prepared
// statements: those made by SQL PREPARE (pgx makes none, so any is the
// peer's) and the protocol-level ones (pgx's), which beginSQL counted too.
const checkSQL = "SELECT count(*) FILTER (WHERE from_sql), count(*) FILTER (WHERE NOT from_sql), pg_advisory_unlock_all() " +
	"FROM pg_prepared_statements"

// beginSQL counts pgx's prepared statements on the session, then begins a
// peer's transaction and runs a query in it at once, so that the
// transaction's access mode can no longer change (PostgreSQL refuses SET
// TRANSACTION READ WRITE after the first query). %s is BEGIN's mode.
const beginSQL = "SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql; BEGIN %s; SELECT 1"

// errDirtySession: a peer's statement left the session with something the
// reset does not undo.
var errDirtySession = errors.New("the peer's statement made or dropped prepared statements of the session")

// constrained reports whether j must run read-only or as a role: a peer's
// statement without the write grant, or (PostgreSQL only) with a role.
func (s *State) constrained(j *job) bool {
	p := j.peer
	return p != nil && (!p.Write || (p.Role != "" && s.cfg.Dialect == dsn.Postgres))
}

func sandboxRefusal(name string) string {
	return fmt.Sprintf("%s runs every statement in one transaction that is rolled back (force rollback), which cannot be made read-only "+
		"or run as another role: a peer's statement that must be is refused", messages.DisplayName(name))
}

// checkPeer refuses at once a peer's statement that its database cannot
// hold to the peer's grant.
func (s *State) checkPeer(j *job) *messages.Error {
	if j.peer != nil && s.cfg.Dialect == dsn.Postgres && namesPgxStatement(j.sql) {
		return &messages.Error{Code: messages.Code_CODE_PERMISSION_DENIED, Database: s.name,
			Message: kind(j.req) + ": a peer's SQL may not name a prepared statement of the pool's"}
	}
	if !s.constrained(j) {
		return nil
	}
	if s.ForceRollback() {
		return &messages.Error{Code: messages.Code_CODE_UNSUPPORTED, Database: s.name, Message: kind(j.req) + ": " + sandboxRefusal(s.name)}
	}
	if s.cfg.Dialect == dsn.SQLite {
		if err := oneQuery(j.sql); err != nil {
			return &messages.Error{Code: messages.Code_CODE_PERMISSION_DENIED, Database: s.name,
				Message: fmt.Sprintf("%s: the peer may only read, and %v", kind(j.req), err)}
		}
	}
	if s.cfg.Dialect == dsn.Postgres && detaches(j.sql) {
		// On a server with max_prepared_transactions > 0 it would leave
		// the peer's transaction prepared, holding its locks, for ever.
		return &messages.Error{Code: messages.Code_CODE_PERMISSION_DENIED, Database: s.name,
			Message: kind(j.req) + ": a peer's statement may not detach its transaction (PREPARE TRANSACTION)"}
	}
	return nil
}

// namesPgxStatement reports whether sql could be the name of one of pgx's
// prepared statements ("stmtcache_…" for its cache, "stmt_…" for a
// Prepare named by its text): pgx runs the prepared statement a text names
// before it looks at anything else, so a peer sending the name would run a
// statement the pool's own code prepared. No SQL statement starts so.
func namesPgxStatement(sql string) bool {
	return strings.HasPrefix(sql, "stmtcache_") || strings.HasPrefix(sql, "stmt_")
}

// detaches reports whether sql is a PREPARE TRANSACTION: its first two
// words, after blanks and comments as PostgreSQL reads them (block
// comments nest there), are PREPARE and TRANSACTION.
func detaches(sql string) bool {
	first, rest := pgWord(sql)
	second, _ := pgWord(rest)
	return strings.EqualFold(first, "PREPARE") && strings.EqualFold(second, "TRANSACTION")
}

// pgWord returns the first word of sql (ASCII letters and '_') after blanks
// and comments, and what follows it.
func pgWord(sql string) (word, rest string) {
	sql = skipBlanks(sql, true)
	n := 0
	for n < len(sql) && (sql[n]|0x20 >= 'a' && sql[n]|0x20 <= 'z' || sql[n] == '_') {
		n++
	}
	return sql[:n], sql[n:]
}

// oneQuery checks that sql is a single SELECT, WITH or VALUES statement:
// its first keyword, after blanks and comments, is one of those, and it
// has no ';' but trailing ones. A ';' in a string literal or a comment is
// refused too: such values go in arguments.
func oneQuery(sql string) error {
	rest := skipBlanks(sql, false)
	n := 0
	for n < len(rest) && (rest[n]|0x20 >= 'a' && rest[n]|0x20 <= 'z') {
		n++
	}
	switch kw := strings.ToUpper(rest[:n]); kw {
	case "SELECT", "WITH", "VALUES":
	default:
		return fmt.Errorf("a read-only statement must start with SELECT, WITH or VALUES, not %q", truncate(kw, 20))
	}
	if strings.Contains(strings.TrimRight(sql, " \t\r\n\f\v;"), ";") {
		return errors.New("a read-only statement must be one statement, with no ';' but at its end (pass values holding ';' as arguments)")
	}
	return nil
}

// skipBlanks returns sql after its leading white space and comments; ""
// when an unterminated comment takes the rest. nested: block comments nest,
// as PostgreSQL's lexer reads them (SQLite's do not).
func skipBlanks(sql string, nested bool) string {
	for {
		sql = strings.TrimLeft(sql, " \t\r\n\f\v")
		switch {
		case strings.HasPrefix(sql, "--"):
			i := strings.IndexByte(sql, '\n')
			if i < 0 {
				return ""
			}
			sql = sql[i+1:]
		case strings.HasPrefix(sql, "/*"):
			depth, i := 1, 2
			for depth > 0 && i < len(sql) {
				switch {
				case nested && strings.HasPrefix(sql[i:], "/*"):
					depth, i = depth+1, i+2
				case strings.HasPrefix(sql[i:], "*/"):
					depth, i = depth-1, i+2
				default:
					i++
				}
			}
			if depth > 0 {
				return ""
			}
			sql = sql[i:]
		default:
			return sql
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// runSQLite runs fn, the statement of j, on db; a read-only peer's on a
// connection of its own with PRAGMA query_only on. Role is ignored:
// SQLite has no roles.
func (s *State) runSQLite(ctx context.Context, db *sql.DB, j *job, fn func(context.Context, Querier) error) error {
	if !s.constrained(j) {
		return fn(ctx, db)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	// Before turning it on: a failure half-way must not leave it on either.
	defer s.writable(ctx, conn)
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		return err
	}
	return fn(ctx, conn)
}

// writable turns query_only off again, or has database/sql discard the
// connection: it must never go back to the pool read-only.
func (s *State) writable(ctx context.Context, conn *sql.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resetTimeout)
	defer cancel()
	_, err := conn.ExecContext(rctx, "PRAGMA query_only = OFF")
	if err == nil {
		return
	}
	s.logger.Error("dbactor: could not make a connection writable again after a read-only statement; discarding it", "error", s.Scrub(err.Error()))
	_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // database/sql closes it
}

// bodyBudget is the largest server message a result of maxBytes allows.
func bodyBudget(maxBytes uint64) int { return int(maxBytes) + bodySlack }

// bodyTooLarge turns the driver's refusal of a message beyond the budget
// into the reply error of a result too large.
func (s *State) bodyTooLarge(err error, maxBytes uint64) error {
	var big *pgproto3.ExceededMaxBodyLenErr
	if errors.As(err, &big) {
		return s.tooLarge(maxBytes)
	}
	return err
}

// runPostgres runs j on db. A Query runs on a pgx connection of its own,
// taken from the pool under db (no database/sql on its way), whose
// messages from the server are bounded by its max_bytes; a peer's
// statement that must be read-only or run as a role runs constrained. A
// writing peer's Exec without a role runs on db, as a local one.
func (s *State) runPostgres(ctx context.Context, db *sql.DB, j *job, reply any) error {
	m, isQuery := j.req.(*messages.Query)
	constrained := s.constrained(j)
	if !isQuery && !constrained {
		return exec(ctx, db, j.sql, s.peerArgs(j), reply.(*messages.ExecResult))
	}
	pool := s.Pool()
	if pool == nil { // closed since bind
		return &messages.Error{Code: messages.Code_CODE_NOT_CONNECTED, Database: s.name,
			Message: kind(j.req) + ": " + messages.DisplayName(s.name) + " was disconnected while the statement waited for a worker: nothing was run"}
	}
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(pc)
	conn := pc.Conn()
	// An Exec's rows are read and dropped, but each is read whole: bound
	// them as a result of the largest size.
	maxBytes := MaxBytesLimit
	if isQuery {
		_, maxBytes = s.limits(m)
	}
	conn.PgConn().Frontend().SetMaxBodyLen(bodyBudget(maxBytes))
	if !constrained {
		return s.queryPostgres(ctx, conn, m, j, reply.(*messages.QueryResult), s.peerOpts(j)...)
	}
	s.warnSuperuser(conn)
	err = s.constrainedPostgres(ctx, conn, j, reply)
	if !isQuery {
		var big *pgproto3.ExceededMaxBodyLenErr
		if errors.As(err, &big) {
			return &messages.Error{Code: messages.Code_CODE_LIMIT_EXCEEDED, Database: s.name,
				Message: fmt.Sprintf("Exec: the statement returned a row larger than %d bytes: use Query for statements that return rows", maxBytes)}
		}
	}
	return err
}

// peerArgs are j's arguments behind its peerOpts (j.args itself when it
// has none).
func (s *State) peerArgs(j *job) []any {
	if opts := s.peerOpts(j); opts != nil {
		return append(opts, j.args...)
	}
	return j.args
}

// release gives pc the pool's own limit on server messages back and
// returns it to the pool. pgxpool destroys a connection that closed (a
// message beyond the budget closes it) or is still in a transaction.
func (s *State) release(pc *pgxpool.Conn) {
	pc.Conn().PgConn().Frontend().SetMaxBodyLen(s.cfg.Postgres.ConnConfig.MaxProtocolMessageBodyLen)
	pc.Release()
}

// warnSuperuser logs, once per database, that a peer's constrained
// statement runs on a superuser's connection: neither a READ ONLY
// transaction nor a role bounds a superuser (COPY … TO PROGRAM,
// pg_read_file, a role left with set_config), so a grant is only as
// narrow as the pool's user. The server reports is_superuser when the
// connection starts: no round trip.
func (s *State) warnSuperuser(conn *pgx.Conn) {
	if s.superuserWarned.Load() {
		return
	}
	if conn.PgConn().ParameterStatus("is_superuser") == "on" && s.superuserWarned.CompareAndSwap(false, true) {
		s.logger.Warn("dbactor: a peer's statement runs as a PostgreSQL superuser: its grant's read-only guard and role do not bound it " +
			"(COPY … TO PROGRAM, pg_read_file, leaving the role); give a registry that peers reach a database user without superuser rights")
	}
}

// peerMode is how pgx sends a peer's constrained statement, whatever the
// pool's default_query_exec_mode: by the extended protocol, whose Parse
// takes one statement only, as an unnamed statement whose parameter types
// the server describes the first time a connection sees the text (then
// remembered in the connection's bounded description cache; see
// peerCachedSQL for long texts). Never as a named prepared statement: one
// the peer's text made would hide a DEALLOCATE of one of pgx's from the
// session check (one made, one dropped), stay on the server with its plan
// until pgx's cache evicts it, and be shared with a local statement of the
// same text though prepared under the peer's role (with another
// search_path resolution, "cached plan must not change result type").
func peerMode(sql string) pgx.QueryExecMode {
	if len(sql) > peerCachedSQL {
		return pgx.QueryExecModeDescribeExec
	}
	return pgx.QueryExecModeCacheDescribe
}

// peerCachedSQL is the longest text of a peer's statement that pgx may
// keep in a connection's caches (keyed by the text, 512 entries each by
// default); a longer one is described on every run, one round trip more,
// so that a peer's texts hold at most a few MiB of this node's memory per
// connection rather than MaxSQL (1 MiB) for each of 512.
const peerCachedSQL = 8 << 10

// peerDescriptions is the most statement descriptions a connection keeps
// when the URL does not say: in the default exec mode only unnamed
// statements use that cache — peers' constrained ones — and a peer's
// distinct short texts could otherwise keep pgx's 512 there, each with its
// row description (of up to 1,600 columns: about 47 MiB a connection,
// measured with 512 texts).
const peerDescriptions = 64

// limitDescriptions caps c's description cache at peerDescriptions, unless
// the URL sets description_cache_capacity or makes CacheDescribe the
// pool's own mode (then its statements need the cache).
func limitDescriptions(c *pgx.ConnConfig) {
	if c.DefaultQueryExecMode == pgx.QueryExecModeCacheDescribe || strings.Contains(c.ConnString(), "description_cache_capacity") {
		return
	}
	c.DescriptionCacheCapacity = min(c.DescriptionCacheCapacity, peerDescriptions)
}

// peerOpts are the pgx options before the arguments of a peer's statement
// that runs unconstrained on PostgreSQL (a writing peer without a role, or
// any peer's on a force-rollback database): the pool's own exec mode, as a
// local statement's, but never caching a long text (see peerCachedSQL).
func (s *State) peerOpts(j *job) []any {
	if j.peer != nil && s.cfg.Dialect == dsn.Postgres && len(j.sql) > peerCachedSQL {
		return []any{pgx.QueryExecModeDescribeExec}
	}
	return nil
}

// constrainedPostgres runs j in a transaction read-only unless its peer
// may write, as the peer's role if it has one, then ends the transaction
// and puts the session back in order (endSession); see the top of this
// file.
func (s *State) constrainedPostgres(ctx context.Context, conn *pgx.Conn, j *job, reply any) error {
	kept, err := begin(ctx, conn, j.peer.Write)
	if err == nil {
		err = s.inTransaction(ctx, conn, j, reply)
	}
	end := "ROLLBACK"
	if err == nil && j.peer.Write {
		end = "COMMIT; " + resetSQL
	}
	if endErr := s.endSession(ctx, conn, end, kept); err == nil {
		err = endErr
	}
	return err
}

// begin begins the transaction of a peer's statement and returns how many
// prepared statements pgx has on the session (-1 when unknown). It goes
// through pgx, which first deallocates the statements it has invalidated
// since (a failed statement invalidates its cached twin): counted before
// that, pgx's own deallocations in the peer's statement would look like a
// peer's DEALLOCATE. The transaction is begun by hand, not by conn.Begin,
// so that its end can share a round trip with the session's checks:
// endSession ends it before the connection goes back.
func begin(ctx context.Context, conn *pgx.Conn, write bool) (kept int64, err error) {
	mode := "READ ONLY"
	if write {
		mode = "READ WRITE"
	}
	kept = -1
	// The simple protocol runs all three; the rows are the first's.
	rows, err := conn.Query(ctx, fmt.Sprintf(beginSQL, mode), pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return kept, err
	}
	var n int64
	if rows.Next() && rows.Scan(&n) == nil {
		kept = n
	}
	rows.Close()
	return kept, rows.Err()
}

// count is column i of the only row of the last of results, a count.
func count(results []*pgconn.Result, i int) (int64, bool) {
	if len(results) == 0 {
		return 0, false
	}
	last := results[len(results)-1]
	if len(last.Rows) != 1 || len(last.Rows[0]) <= i {
		return 0, false
	}
	n, err := strconv.ParseInt(string(last.Rows[0][i]), 10, 64)
	return n, err == nil
}

// inTransaction runs the statement of j in the transaction begun on conn.
func (s *State) inTransaction(ctx context.Context, conn *pgx.Conn, j *job, reply any) error {
	if role := j.peer.Role; role != "" {
		// A parameter, never SQL text; local: it ends with the transaction.
		if _, err := conn.Exec(ctx, "SELECT set_config('role', $1, true)", pgx.QueryExecModeExec, role); err != nil {
			return fmt.Errorf("running as role %q: %w", role, err)
		}
	}
	switch m := j.req.(type) {
	case *messages.Query:
		return s.queryPostgres(ctx, conn, m, j, reply.(*messages.QueryResult), peerMode(j.sql))
	case *messages.Exec:
		res := reply.(*messages.ExecResult)
		if len(j.args) > 0 {
			tag, err := conn.Exec(ctx, j.sql, append([]any{peerMode(j.sql)}, j.args...)...)
			res.RowsAffected = tag.RowsAffected()
			return err
		}
		// pgx sends an Exec without arguments by the simple protocol,
		// which runs every statement of the string: send it by the
		// extended protocol on the connection directly.
		tag, err := conn.PgConn().ExecParams(ctx, j.sql, nil, nil, nil, nil).Close()
		res.RowsAffected = tag.RowsAffected()
		return err
	}
	return nil
}

// endSession ends conn's transaction with end (a ROLLBACK, or a COMMIT
// and resetSQL) and checks the session (checkSQL) in one round trip, or
// closes the connection, so that nothing the peer's statement changed
// reaches the next user of the pool. kept is what begin counted. It
// returns the failure of the COMMIT: one the server refused (a deferred
// constraint, a serialization failure), or one whose outcome is unknown.
func (s *State) endSession(ctx context.Context, conn *pgx.Conn, end string, kept int64) error {
	// Not ctx, which may have ended with the statement's deadline: the
	// end is bounded on its own. Unless the pool is closing (or the
	// database for good): then the connection goes anyway, and the close
	// must not wait for it.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resetTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			cancel()
		}
	})
	defer stop()
	pg := conn.PgConn()
	if pg.IsClosed() { // pgxpool destroys it; the server rolled back
		if end != "ROLLBACK" {
			return errors.New("the connection closed before the transaction committed")
		}
		return nil
	}
	endErr, resetErr := endAndCheck(rctx, pg, end, kept)
	if resetErr != nil {
		s.logger.Warn("dbactor: could not reset a connection after a peer's statement; discarding it", "error", s.Scrub(resetErr.Error()))
		_ = pg.Close(rctx) // pgxpool destroys a closed connection
	}
	return endErr
}

// endAndCheck sends end and checkSQL as one string (the simple protocol
// runs each of its statements). endErr is the failure of end's COMMIT, the
// first statement; the server then skipped the rest, which runs again on
// its own. resetErr: the session could not be put back in order, and the
// connection must go.
func endAndCheck(ctx context.Context, pg *pgconn.PgConn, end string, kept int64) (endErr, resetErr error) {
	results, err := pg.Exec(ctx, end+"; "+checkSQL).ReadAll()
	if err == nil {
		return nil, checkSession(pg, results, kept)
	}
	// A failed statement ends the results (ReadAll keeps those that
	// completed): none means the first failed, and the server skipped the
	// rest.
	if len(results) != 0 {
		return nil, err // end completed; what followed failed
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pg.IsClosed() {
		if end != "ROLLBACK" { // the connection failed, perhaps after the COMMIT
			return fmt.Errorf("the transaction's outcome is unknown: %w", err), err
		}
		return nil, err
	}
	// A COMMIT the server refused, which rolled back.
	if st := pg.TxStatus(); st != 'I' {
		return err, fmt.Errorf("the session is still in a transaction (status %q)", st)
	}
	results, resetErr = pg.Exec(ctx, resetSQL+"; "+checkSQL).ReadAll()
	if resetErr != nil {
		return err, resetErr
	}
	return err, checkSession(pg, results, kept)
}

// checkSession checks the results of checkSQL: the session is out of any
// transaction, has no prepared statement made by SQL PREPARE, and kept
// all of pgx's (when kept is known).
func checkSession(pg *pgconn.PgConn, results []*pgconn.Result, kept int64) error {
	if st := pg.TxStatus(); st != 'I' {
		return fmt.Errorf("the session is still in a transaction (status %q)", st)
	}
	made, ok1 := count(results, 0)
	left, ok2 := count(results, 1)
	if !ok1 || !ok2 || made != 0 || (kept >= 0 && left < kept) {
		return errDirtySession
	}
	return nil
}
