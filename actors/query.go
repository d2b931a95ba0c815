package actors

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/sqlvalue"
	"github.com/dbactor/dbactor/messages"
)

// Query defaults, and the most bytes a query result may have (below
// gRPC's 4 MiB message limit, so a result can cross Proto.Actor remote).
const (
	DefaultQueryWorkers        = 4
	DefaultQueryQueue          = 256
	DefaultMaxRows      uint32 = 1000
	DefaultMaxBytes     uint64 = 1 << 20
	MaxBytesLimit       uint64 = 3 << 20
)

// QueryOptions configure how a database runs the statements of
// messages.Query and messages.Exec: never in its actor's mailbox, but on
// at most Workers goroutines at once, with at most Queue more statements
// waiting for one (first come, first served); beyond that a statement is
// refused at once with CODE_OVERLOADED. Zero values mean the defaults.
type QueryOptions struct {
	// Workers is how many statements run at once. 0 means
	// DefaultQueryWorkers.
	Workers int
	// Queue is how many statements may wait for a worker. 0 means
	// DefaultQueryQueue.
	Queue int
	// MaxRows is the most rows a Query returns when it asks for no limit
	// of its own (max_rows 0). 0 means DefaultMaxRows.
	MaxRows uint32
	// MaxBytes is the most bytes of values a Query returns when it asks
	// for no limit of its own (max_bytes 0). 0 means DefaultMaxBytes; at
	// most MaxBytesLimit, which also caps what a Query may ask for.
	MaxBytes uint64
}

// Validate reports options that are not merely unset: a negative Workers
// or Queue, a MaxBytes above MaxBytesLimit.
func (o QueryOptions) Validate() error {
	var errs []error
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("Workers is %d: give a positive number, or 0 for the default (%d)", o.Workers, DefaultQueryWorkers))
	}
	if o.Queue < 0 {
		errs = append(errs, fmt.Errorf("Queue is %d: give a positive number, or 0 for the default (%d)", o.Queue, DefaultQueryQueue))
	}
	if o.MaxBytes > MaxBytesLimit {
		errs = append(errs, fmt.Errorf("MaxBytes is %d: at most %d (3 MiB), or 0 for the default (%d)", o.MaxBytes, MaxBytesLimit, DefaultMaxBytes))
	}
	return errors.Join(errs...)
}

func (o QueryOptions) withDefaults() QueryOptions {
	if o.Workers <= 0 {
		o.Workers = DefaultQueryWorkers
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueryQueue
	}
	if o.MaxRows == 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	o.MaxBytes = min(o.MaxBytes, MaxBytesLimit)
	return o
}

// errDisconnected ends the statements running on a pool when it closes.
var errDisconnected = errors.New("the database was disconnected while the statement ran")

// queries is a database's query workers and their queue. It lives in the
// State, so a restart of the actor loses neither.
type queries struct {
	opts QueryOptions

	mu      sync.Mutex
	workers int               // goroutines running work
	queue   []*job            // waiting for a worker, oldest first
	running map[*job]struct{} // statements on a pool, for cut
	idle    chan struct{}     // nil while no worker runs, closed when the last returns
}

// job is one Query or Exec, from the actor's mailbox to its reply.
type job struct {
	sys      *actor.ActorSystem
	sender   *actor.PID // nil: run, but answer nobody
	req      any        // *messages.Query or *messages.Exec
	sql      string
	args     []any
	deadline time.Time
	// Set when it starts running, under queries.mu.
	db     *sql.DB
	cancel context.CancelCauseFunc
}

func (j *job) reply(msg any) {
	if j.sender != nil && msg != nil {
		j.sys.Root.Send(j.sender, msg)
	}
}

// statement takes a Query or Exec from the mailbox: it refuses it at once
// (not connected, malformed, expired, overloaded) or hands it to a worker.
// It never waits for SQL.
func (a *databaseActor) statement(c actor.Context) {
	s := a.s
	j := &job{sys: c.ActorSystem(), sender: c.Sender(), req: c.Message()}
	var vals []*messages.Value
	var ts *timestamppb.Timestamp
	switch m := j.req.(type) {
	case *messages.Query:
		j.sql, vals, ts = m.GetSql(), m.GetArgs(), m.GetDeadline()
	case *messages.Exec:
		j.sql, vals, ts = m.GetSql(), m.GetArgs(), m.GetDeadline()
	default:
		return
	}
	if e := s.admit(j, vals, ts); e != nil {
		j.reply(messages.FailedReply(j.req, e))
	}
}

// admit checks a statement and queues it; the error is the refusal.
func (s *State) admit(j *job, vals []*messages.Value, ts *timestamppb.Timestamp) *messages.Error {
	if s.DB() == nil {
		return &messages.Error{Code: messages.Code_CODE_NOT_CONNECTED, Database: s.name,
			Message: fmt.Sprintf("%s is not connected: connect it first (Connect) before sending %s", DisplayName(s.name), kind(j.req))}
	}
	if strings.TrimSpace(j.sql) == "" {
		return &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Database: s.name, Message: kind(j.req) + ": empty sql"}
	}
	args, err := sqlvalue.Args(vals)
	if err != nil {
		return s.ErrorOf(messages.Code_CODE_INVALID_ARGUMENT, kind(j.req), err)
	}
	j.args = args
	now := time.Now()
	j.deadline = deadline.Inner(deadline.FromMessage(ts, now, s.defaultTimeout), now)
	if !j.deadline.After(now) {
		return &messages.Error{Code: messages.Code_CODE_TIMEOUT, Database: s.name,
			Message: kind(j.req) + ": deadline passed before the database actor could run it"}
	}
	if !s.submit(j) {
		o := s.queries.opts
		return &messages.Error{Code: messages.Code_CODE_OVERLOADED, Database: s.name,
			Message: fmt.Sprintf("%s: every query worker (%d) is busy and the queue (%d) is full: nothing was run, retry later", kind(j.req), o.Workers, o.Queue)}
	}
	return nil
}

func kind(req any) string {
	if _, ok := req.(*messages.Exec); ok {
		return "Exec"
	}
	return "Query"
}

// submit starts j on a new worker when fewer than Workers run, else
// queues it; false when the queue is full.
func (s *State) submit(j *job) bool {
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.workers < q.opts.Workers {
		q.workers++
		if q.idle == nil {
			q.idle = make(chan struct{})
		}
		go s.work(j)
		return true
	}
	if len(q.queue) >= q.opts.Queue {
		return false
	}
	q.queue = append(q.queue, j)
	return true
}

// work runs j, then every queued job, and returns when the queue is empty.
func (s *State) work(j *job) {
	for j != nil {
		s.run(j)
		j = s.next()
	}
}

// next takes the oldest queued job, or retires the worker.
func (s *State) next() *job {
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) > 0 {
		j := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		if len(q.queue) == 0 {
			q.queue = nil
		}
		return j
	}
	q.workers--
	if q.workers == 0 {
		close(q.idle)
		q.idle = nil
	}
	return nil
}

// waitWorkers waits until no query worker runs, or ctx ends.
func (s *State) waitWorkers(ctx context.Context) error {
	for {
		s.queries.mu.Lock()
		idle := s.queries.idle
		s.queries.mu.Unlock()
		if idle == nil {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("%s: query workers still running: %w", DisplayName(s.name), context.Cause(ctx))
		}
	}
}

// cut ends the statements running on db, a pool being closed: they are
// answered CODE_NOT_CONNECTED rather than holding the close up.
func (s *State) cut(db *sql.DB) {
	if db == nil {
		return
	}
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	for j := range q.running {
		if j.db == db {
			j.cancel(errDisconnected)
		}
	}
}

// run runs one job and answers it. A panic is answered CODE_INTERNAL and
// reported; the worker carries on.
func (s *State) run(j *job) {
	var reply any
	defer func() {
		if r := recover(); r != nil {
			reply = s.crashed(j, r)
		}
		j.reply(reply)
	}()
	reply = s.execute(j)
}

func (s *State) crashed(j *job, r any) any {
	reason := crash.Wrap(r, s.Scrub).Reason
	s.logger.Error("dbactor: query worker crashed; carrying on", "message", fmt.Sprintf("%T", j.req),
		"reason", reason, "stack", s.Scrub(string(debug.Stack())))
	s.Publish(j.sys, &messages.ActorCrashed{Actor: s.PID().GetId(), Database: s.name,
		MessageType: fmt.Sprintf("%T", j.req), Reason: reason, Directive: "resume"})
	return messages.FailedReply(j.req, &messages.Error{Code: messages.Code_CODE_INTERNAL, Database: s.name,
		Message: kind(j.req) + ": query worker crashed: " + reason})
}

// bind binds j to the open pool, so that closing it cuts j short; nil
// when none is open.
func (s *State) bind(j *job, cancel context.CancelCauseFunc) *sql.DB {
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	db := s.DB()
	if db != nil {
		j.db, j.cancel = db, cancel
		if q.running == nil {
			q.running = map[*job]struct{}{}
		}
		q.running[j] = struct{}{}
	}
	return db
}

func (s *State) unbind(j *job) {
	s.queries.mu.Lock()
	delete(s.queries.running, j)
	s.queries.mu.Unlock()
}

// execute runs the statement of j and returns its reply.
func (s *State) execute(j *job) any {
	fail := func(code messages.Code, msg string) any {
		return messages.FailedReply(j.req, &messages.Error{Code: code, Database: s.name, Message: kind(j.req) + ": " + msg})
	}
	if s.life.Err() != nil {
		return fail(messages.Code_CODE_CLOSED, "database closed: its registry is closed")
	}
	if !time.Now().Before(j.deadline) {
		return fail(messages.Code_CODE_TIMEOUT, "deadline passed while waiting for a query worker: nothing was run")
	}
	ctx, cancel := context.WithDeadline(s.life, j.deadline)
	defer cancel()
	ctx, cut := context.WithCancelCause(ctx)
	defer cut(nil)
	db := s.bind(j, cut)
	if db == nil {
		return fail(messages.Code_CODE_NOT_CONNECTED, DisplayName(s.name)+" was disconnected while the statement waited for a worker: nothing was run")
	}
	defer s.unbind(j)
	faults.Hit(faults.QueryWorker, s.PID(), j.req)

	var reply any
	var fn func(ctx context.Context, q Querier) error
	switch m := j.req.(type) {
	case *messages.Query:
		res := &messages.QueryResult{}
		reply = res
		fn = func(ctx context.Context, q Querier) error { return s.query(ctx, q, m, j, res) }
	case *messages.Exec:
		res := &messages.ExecResult{}
		reply = res
		fn = func(ctx context.Context, q Querier) error {
			r, err := q.ExecContext(ctx, j.sql, j.args...)
			if err != nil {
				return err
			}
			res.RowsAffected, err = r.RowsAffected()
			return err
		}
	}
	var err error
	if s.ForceRollback() {
		err = s.InSandbox(ctx, fn)
	} else {
		err = fn(ctx, db)
	}
	if err == nil {
		return reply
	}
	e := s.classify(ctx, db, err)
	s.logger.Debug("dbactor: statement failed", "request", kind(j.req), "code", e.GetCode().String(), "error", e.GetMessage())
	return messages.FailedReply(j.req, e)
}

// query runs a Query into res, failing with CODE_LIMIT_EXCEEDED as soon as
// the result grows beyond its limits.
func (s *State) query(ctx context.Context, q Querier, m *messages.Query, j *job, res *messages.QueryResult) error {
	maxRows, maxBytes := m.GetMaxRows(), m.GetMaxBytes()
	if maxRows == 0 {
		maxRows = s.queries.opts.MaxRows
	}
	if maxBytes == 0 {
		maxBytes = s.queries.opts.MaxBytes
	}
	maxBytes = min(maxBytes, MaxBytesLimit)

	rows, err := q.QueryContext(ctx, j.sql, j.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	res.Columns = make([]*messages.Column, len(cts))
	types := make([]string, len(cts))
	for i, ct := range cts {
		types[i] = ct.DatabaseTypeName()
		res.Columns[i] = &messages.Column{Name: ct.Name(), Type: types[i]}
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var size uint64
	for rows.Next() {
		if uint64(len(res.Rows)) >= uint64(maxRows) {
			return &messages.Error{Code: messages.Code_CODE_LIMIT_EXCEEDED, Database: s.name,
				Message: fmt.Sprintf("Query: the result has more than max_rows=%d rows: narrow the query (LIMIT, WHERE) or raise max_rows", maxRows)}
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := &messages.Row{Values: make([]*messages.Value, len(vals))}
		for i, v := range vals {
			val, err := sqlvalue.FromScan(v, types[i])
			if err != nil {
				return s.ErrorOf(messages.Code_CODE_UNSUPPORTED, fmt.Sprintf("Query: column %q", cts[i].Name()), err)
			}
			row.Values[i] = val
		}
		// What the row adds to the encoded reply, framing included: the
		// reply must fit in one gRPC message when it crosses nodes.
		size += uint64(protowire.SizeTag(2) + protowire.SizeBytes(proto.Size(row)))
		if size > maxBytes {
			return &messages.Error{Code: messages.Code_CODE_LIMIT_EXCEEDED, Database: s.name,
				Message: fmt.Sprintf("Query: the result is larger than max_bytes=%d bytes: narrow the query (LIMIT, fewer columns) or raise max_bytes (at most %d)", maxBytes, MaxBytesLimit)}
		}
		res.Rows = append(res.Rows, row)
	}
	return rows.Err()
}

// classify turns the failure of a statement run on db under ctx into a
// reply error.
func (s *State) classify(ctx context.Context, db *sql.DB, err error) *messages.Error {
	var me *messages.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &me):
		return me
	case s.life.Err() != nil:
		return s.ErrorOf(messages.Code_CODE_CLOSED, "database closed while the statement ran", err)
	case errors.Is(err, ErrSandboxClosed), errors.Is(context.Cause(ctx), errDisconnected):
		return s.ErrorOf(messages.Code_CODE_NOT_CONNECTED, DisplayName(s.name)+" was disconnected while the statement ran", err)
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		return s.ErrorOf(messages.Code_CODE_TIMEOUT, "deadline passed while the statement ran", err)
	case errors.As(err, &pgErr):
		return s.ErrorOf(messages.Code_CODE_QUERY, "", err)
	case s.DB() != db:
		// The pool closed between taking it and using it.
		return s.ErrorOf(messages.Code_CODE_NOT_CONNECTED, DisplayName(s.name)+" was disconnected while the statement ran", err)
	}
	return s.ErrorOf(messages.Code_CODE_QUERY, "", err)
}
