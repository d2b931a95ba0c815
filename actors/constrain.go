package actors

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/pgdb"
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
// cannot leave the transaction or the role. A read-only transaction is
// rolled back, a writing one committed. Then the connection's session is
// reset (see resetSQL) before it goes back to the pool, or discarded if
// that fails: whatever the statement changed for the session (SET ROLE,
// search_path, a prepared statement, an advisory lock) does not reach the
// next user of the connection.
//
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
// except for the protocol-level prepared statements of pgx's cache (what
// DISCARD ALL would also drop, behind pgx's back). The last statement
// counts the prepared statements made by SQL PREPARE: pgx makes none, so
// any is the peer's, and the connection is discarded rather than keep it.
const resetSQL = "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; UNLISTEN *; " +
	"SELECT pg_advisory_unlock_all(); DISCARD TEMP; SELECT count(*) FROM pg_prepared_statements WHERE from_sql"

// errDirtySession: a peer's statement left the session with something the
// reset does not undo.
var errDirtySession = errors.New("the session kept prepared statements made by the peer's statement")

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
	return nil
}

// oneQuery checks that sql is a single SELECT, WITH or VALUES statement:
// its first keyword, after blanks and comments, is one of those, and it
// has no ';' but trailing ones. A ';' in a string literal or a comment is
// refused too: such values go in arguments.
func oneQuery(sql string) error {
	rest := skipBlanks(sql)
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
// when an unterminated comment takes the rest.
func skipBlanks(sql string) string {
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
			i := strings.Index(sql[2:], "*/")
			if i < 0 {
				return ""
			}
			sql = sql[i+4:]
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

// pgxConn is the pgx connection under a database/sql driver connection of
// a pool opened by internal/pgdb.
func pgxConn(dc any) (*pgx.Conn, error) {
	if c := pgdb.PgxConn(dc); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("dbactor: unexpected PostgreSQL driver connection %T", dc)
}

// setMaxBody sets the most bytes a message from the server may have on
// conn's connection (0: no limit). A DataRow or RowDescription beyond it
// fails before it is read, and pgconn closes the connection (pgxpool then
// destroys it, rather than take it back).
func setMaxBody(conn *sql.Conn, n int) error {
	return conn.Raw(func(dc any) error {
		pc, err := pgxConn(dc)
		if err != nil {
			return err
		}
		pc.PgConn().Frontend().SetMaxBodyLen(n)
		return nil
	})
}

// restoreMaxBody gives conn's connection the pool's own limit back before
// it returns to the pool, or has it discarded.
func (s *State) restoreMaxBody(conn *sql.Conn) {
	if err := setMaxBody(conn, s.cfg.Postgres.ConnConfig.MaxProtocolMessageBodyLen); err != nil && !errors.Is(err, sql.ErrConnDone) {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
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

// runPostgres runs j on db. A Query runs on a connection of its own whose
// messages from the server are bounded by its max_bytes; a peer's
// statement that must be read-only or run as a role runs constrained. A
// writing peer's Exec without a role runs on the pool, as a local one.
func (s *State) runPostgres(ctx context.Context, db *sql.DB, j *job, reply any) error {
	m, isQuery := j.req.(*messages.Query)
	constrained := s.constrained(j)
	if !isQuery && !constrained {
		return exec(ctx, db, j.sql, j.args, reply.(*messages.ExecResult))
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	// An Exec's rows are read and dropped, but each is read whole: bound
	// them as a result of the largest size.
	maxBytes := MaxBytesLimit
	if isQuery {
		_, maxBytes = s.limits(m)
	}
	if err := setMaxBody(conn, bodyBudget(maxBytes)); err != nil {
		return err
	}
	defer s.restoreMaxBody(conn)
	if !constrained {
		return s.query(ctx, conn, m, j, reply.(*messages.QueryResult), j.args)
	}
	s.warnSuperuser(conn)
	defer s.resetSession(ctx, conn) // once the transaction has ended
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

// warnSuperuser logs, once per database, that a peer's constrained
// statement runs on a superuser's connection: neither a READ ONLY
// transaction nor a role bounds a superuser (COPY … TO PROGRAM,
// pg_read_file, a role left with set_config), so a grant is only as
// narrow as the pool's user. The server reports is_superuser when the
// connection starts: no round trip.
func (s *State) warnSuperuser(conn *sql.Conn) {
	if s.superuserWarned.Load() {
		return
	}
	_ = conn.Raw(func(dc any) error {
		if pc, err := pgxConn(dc); err == nil && pc.PgConn().ParameterStatus("is_superuser") == "on" && s.superuserWarned.CompareAndSwap(false, true) {
			s.logger.Warn("dbactor: a peer's statement runs as a PostgreSQL superuser: its grant's read-only guard and role do not bound it " +
				"(COPY … TO PROGRAM, pg_read_file, leaving the role); give a registry that peers reach a database user without superuser rights")
		}
		return nil
	})
}

// describeExec makes pgx send a statement by the extended protocol, which
// takes one statement only, whatever the pool's default_query_exec_mode.
func describeExec(args []any) []any {
	return append([]any{pgx.QueryExecModeDescribeExec}, args...)
}

// constrainedPostgres runs j in a transaction read-only unless its peer
// may write, as the peer's role if it has one; see the top of this file.
func (s *State) constrainedPostgres(ctx context.Context, conn *sql.Conn, j *job, reply any) (err error) {
	// Not ctx: database/sql would roll back and give the connection back
	// when ctx ends, behind resetSession. The statements below use ctx;
	// the transaction's own end is bounded like resetSession.
	txCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), j.deadline.Add(resetTimeout))
	defer cancel()
	// Unless the pool is closing (or the database for good): then the
	// connection goes anyway, and the close must not wait for it.
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			cancel()
		}
	})
	defer stop()
	tx, err := conn.BeginTx(txCtx, &sql.TxOptions{ReadOnly: !j.peer.Write})
	if err != nil {
		return err
	}
	ended := false
	defer func() {
		if !ended {
			_ = tx.Rollback()
		}
	}()
	if role := j.peer.Role; role != "" {
		// A parameter, never SQL text; local: it ends with the transaction.
		if _, err := tx.ExecContext(ctx, "SELECT set_config('role', $1, true)", pgx.QueryExecModeExec, role); err != nil {
			return fmt.Errorf("running as role %q: %w", role, err)
		}
	}
	switch m := j.req.(type) {
	case *messages.Query:
		err = s.query(ctx, tx, m, j, reply.(*messages.QueryResult), describeExec(j.args))
	case *messages.Exec:
		res := reply.(*messages.ExecResult)
		if len(j.args) > 0 {
			err = exec(ctx, tx, j.sql, describeExec(j.args), res)
			break
		}
		// pgx sends an Exec without arguments by the simple protocol,
		// which runs every statement of the string: send it by the
		// extended protocol on the transaction's connection directly.
		err = conn.Raw(func(dc any) error {
			pc, err := pgxConn(dc)
			if err != nil {
				return err
			}
			tag, err := pc.PgConn().ExecParams(ctx, j.sql, nil, nil, nil, nil).Close()
			res.RowsAffected = tag.RowsAffected()
			return err
		})
	}
	if err != nil {
		return err
	}
	ended = true
	if j.peer.Write {
		return tx.Commit()
	}
	return tx.Rollback()
}

// resetSession puts conn's session back in order after a peer's statement
// (resetSQL), or closes the connection, so that nothing it changed reaches
// the next user of the pool.
func (s *State) resetSession(ctx context.Context, conn *sql.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resetTimeout)
	defer cancel()
	err := conn.Raw(func(dc any) error {
		pc, err := pgxConn(dc)
		if err != nil {
			return errors.Join(driver.ErrBadConn, err)
		}
		pg := pc.PgConn()
		if pg.IsClosed() {
			return nil // pgxpool destroys it
		}
		if err := reset(rctx, pg); err != nil {
			s.logger.Warn("dbactor: could not reset a connection after a peer's statement; discarding it", "error", s.Scrub(err.Error()))
			_ = pg.Close(rctx) // pgxpool destroys a closed connection
			return errors.Join(driver.ErrBadConn, err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, driver.ErrBadConn) && !errors.Is(err, sql.ErrConnDone) {
		s.logger.Warn("dbactor: could not reset a connection after a peer's statement", "error", s.Scrub(err.Error()))
	}
}

// reset runs resetSQL on an idle session.
func reset(ctx context.Context, pg *pgconn.PgConn) error {
	if st := pg.TxStatus(); st != 'I' {
		return fmt.Errorf("the session is still in a transaction (status %q)", st)
	}
	results, err := pg.Exec(ctx, resetSQL).ReadAll()
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return errDirtySession
	}
	last := results[len(results)-1]
	if len(last.Rows) != 1 || len(last.Rows[0]) != 1 || string(last.Rows[0][0]) != "0" {
		return errDirtySession
	}
	return nil
}
