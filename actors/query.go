package actors

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/crash"
	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/inproc"
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
	DefaultMaxSQL              = 1 << 20
)

// QueryOptions configure how a database runs the statements of
// messages.Query and messages.Exec: never in its actor's mailbox, but on
// at most Workers goroutines at once, with at most Queue more statements
// waiting for one; beyond that a statement is refused at once with
// CODE_OVERLOADED. A free worker takes the oldest waiting statement that
// may run. A peer's statement (PeerStatement) may run while fewer than
// PerPeer of its peer's run; otherwise it waits in its place, and later
// statements of other peers, and local ones, run before it until one of
// its peer's ends. At most PerPeerQueue statements of one peer wait at
// once; beyond that the peer's next one is refused at once with
// CODE_QUOTA_EXCEEDED. Local statements (not wrapped in a PeerStatement)
// are held by no peer's cap. A statement whose deadline passes while it
// waits is answered CODE_TIMEOUT, without running, as soon as a worker is
// free. Zero values mean the defaults.
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
	// MaxBytes is the most bytes of its encoded result (column names and
	// types, and rows) a Query returns when it asks for no limit of its
	// own (max_bytes 0). 0 means DefaultMaxBytes; at most MaxBytesLimit,
	// which also caps what a Query may ask for. On PostgreSQL a row larger
	// than the limit fails before it is read; SQLite reads each value
	// whole before it is counted (modernc.org/sqlite's per-connection
	// length limit is out of reach of the connections dbactor's schema
	// support wraps).
	MaxBytes uint64
	// PerPeer is the most statements of one peer (PeerStatement.Peer)
	// running at once; the peer's next one waits for one of them to end,
	// while the workers left run the statements of others. 0 means half
	// of Workers, at least 1, so that one peer never takes every worker.
	PerPeer int
	// PerPeerQueue is the most statements of one peer waiting for a
	// worker at once (they count toward Queue too); the next one is
	// refused at once with CODE_QUOTA_EXCEEDED, and nothing is run. 0
	// means a quarter of Queue, at least 1, so that one peer never fills
	// the queue.
	PerPeerQueue int
	// MaxSQL is the most bytes of SQL text of a Query or Exec, local ones
	// too; a longer statement is refused with CODE_LIMIT_EXCEEDED. 0 means
	// DefaultMaxSQL (1 MiB).
	MaxSQL int
}

// Validate reports options that are not merely unset: a negative Workers,
// Queue, PerPeer, PerPeerQueue or MaxSQL, a MaxBytes above MaxBytesLimit.
func (o QueryOptions) Validate() error {
	var errs []error
	if o.Workers < 0 {
		//lint:ignore ST1005 the message starts with the field name Workers, which keeps its case (as MaxBytes, PerPeer and MaxSQL do)
		errs = append(errs, fmt.Errorf("Workers is %d: give a positive number, or 0 for the default (%d)", o.Workers, DefaultQueryWorkers))
	}
	if o.Queue < 0 {
		//lint:ignore ST1005 the message starts with the field name Queue, which keeps its case (as MaxBytes, PerPeer and MaxSQL do)
		errs = append(errs, fmt.Errorf("Queue is %d: give a positive number, or 0 for the default (%d)", o.Queue, DefaultQueryQueue))
	}
	if o.MaxBytes > MaxBytesLimit {
		errs = append(errs, fmt.Errorf("MaxBytes is %d: at most %d (3 MiB), or 0 for the default (%d)", o.MaxBytes, MaxBytesLimit, DefaultMaxBytes))
	}
	if o.PerPeer < 0 {
		errs = append(errs, fmt.Errorf("PerPeer is %d: give a positive number, or 0 for the default (half of Workers, at least 1)", o.PerPeer))
	}
	if o.PerPeerQueue < 0 {
		errs = append(errs, fmt.Errorf("PerPeerQueue is %d: give a positive number, or 0 for the default (a quarter of Queue, at least 1)", o.PerPeerQueue))
	}
	if o.MaxSQL < 0 {
		errs = append(errs, fmt.Errorf("MaxSQL is %d: give a positive number, or 0 for the default (%d)", o.MaxSQL, DefaultMaxSQL))
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
	if o.PerPeer <= 0 {
		o.PerPeer = max(1, o.Workers/2)
	}
	if o.PerPeerQueue <= 0 {
		o.PerPeerQueue = max(1, o.Queue/4)
	}
	if o.MaxSQL <= 0 {
		o.MaxSQL = DefaultMaxSQL
	}
	return o
}

// errDisconnected ends the statements running on a pool when it closes.
var errDisconnected = errors.New("the database was disconnected while the statement ran")

// queries is a database's query workers and their queue. It lives in the
// State, so a restart of the actor loses neither.
//
// Under mu, whenever a worker is free (fewer than Workers run, or one is
// parked), every statement in the queue is a peer's held by its peer's
// cap (see ready). Whatever frees one — a running statement of its peer
// ending, its deadline passing (its timer tells) — starts workers
// (dispatch), and a worker stops taking jobs only when nothing it may
// take waits: no statement waits while a worker is free for it. (When the
// database closes for good, every waiting statement is ready, to be
// answered CODE_CLOSED: its peer's running ones end at once, and the
// workers then answer the rest.)
//
// A worker with nothing to take parks while the pool is open, and the
// next statement goes to it rather than to a new goroutine: a new one
// would grow its stack through pgx again, which cost more CPU than the
// statement's own work. Parked workers retire when the pool closes
// (retireParked); there are never more than Workers.
type queries struct {
	opts QueryOptions

	mu      sync.Mutex
	workers int               // goroutines running work, parked ones included
	parked  []chan *job       // parked workers' hand-off channels, most recent last
	queue   []*job            // waiting for a worker, oldest first
	running map[*job]struct{} // statements on a pool, for cut
	idle    chan struct{}     // nil while every worker is parked (or none runs), closed when the last busy one parks or returns
	peers   map[string]*load  // statements running and waiting, by peer; none idle
}

// load is what one peer has on the database: statements running (at most
// PerPeer) and waiting in the queue (at most PerPeerQueue).
type load struct{ running, waiting int }

// slot is what a job counts in its peer's load.
type slot uint8

const (
	slotNone    slot = iota // nothing: local, answered, or run without a slot
	slotWaiting             // one of load.waiting: it is in the queue
	slotRunning             // one of load.running: it is on a worker
)

// job is one Query or Exec, from the actor's mailbox to its reply.
type job struct {
	sys    *actor.ActorSystem
	faults *faults.Injector // the actor's: nil in production
	sender *actor.PID       // nil: run, but answer nobody
	// req is the *messages.Query or *messages.Exec: a PeerStatement's
	// Request, which peer then constrains.
	req      any
	peer     *inproc.PeerStatement // nil: a local statement, trusted
	sql      string
	args     []any
	deadline time.Time
	// Under queries.mu.
	slot  slot        // what it counts in its peer's load
	timer *time.Timer // a waiting peer's statement: wakes the queue at its deadline
	late  bool        // taken past its peer's cap only to be answered: it must not run
	// Set when it starts running, under queries.mu.
	db     *sql.DB
	cancel context.CancelCauseFunc
}

func (j *job) reply(msg any) {
	if j.sender != nil && msg != nil {
		j.sys.Root.Send(j.sender, msg)
	}
}

// statement takes a Query or Exec, bare or in a PeerStatement, from the
// mailbox: it refuses it at once (not connected, malformed, expired,
// overloaded, beyond its peer's queue or grant) or hands it to a worker.
// It never waits for SQL.
func (a *databaseActor) statement(c actor.Context) {
	s := a.s
	j := &job{sys: c.ActorSystem(), faults: a.faults, sender: c.Sender(), req: c.Message()}
	if p, ok := j.req.(*inproc.PeerStatement); ok {
		j.peer, j.req = p, p.Req()
	}
	var vals []*messages.Value
	var ts *timestamppb.Timestamp
	switch m := j.req.(type) {
	case *messages.Query:
		j.sql, vals, ts = m.GetSql(), m.GetArgs(), m.GetDeadline()
	case *messages.Exec:
		j.sql, vals, ts = m.GetSql(), m.GetArgs(), m.GetDeadline()
	default:
		// A PeerStatement around anything else is refused, never run.
		if reply := failedReply(c.Message(), &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Database: s.name,
			Message: fmt.Sprintf("PeerStatement: Request is %T, not a *messages.Query or *messages.Exec", j.req)}); reply != nil && c.Sender() != nil {
			c.Respond(reply)
		}
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
			Message: fmt.Sprintf("%s is not connected: connect it first (Connect) before sending %s", messages.DisplayName(s.name), kind(j.req))}
	}
	if strings.TrimSpace(j.sql) == "" {
		return &messages.Error{Code: messages.Code_CODE_INVALID_ARGUMENT, Database: s.name, Message: kind(j.req) + ": empty sql"}
	}
	if n, most := len(j.sql), s.queries.opts.MaxSQL; n > most {
		return &messages.Error{Code: messages.Code_CODE_LIMIT_EXCEEDED, Database: s.name,
			Message: fmt.Sprintf("%s: the SQL text is %d bytes, more than the %d allowed (MaxSQL): pass large values as arguments", kind(j.req), n, most)}
	}
	if e := s.checkPeer(j); e != nil {
		return e
	}
	args, err := sqlvalue.Args(vals)
	if err != nil {
		return s.errorOf(messages.Code_CODE_INVALID_ARGUMENT, kind(j.req), err)
	}
	j.args = args
	now := time.Now()
	j.deadline = deadline.Inner(deadline.FromMessage(ts, now, s.defaultTimeout), now)
	if !j.deadline.After(now) {
		return &messages.Error{Code: messages.Code_CODE_TIMEOUT, Database: s.name,
			Message: kind(j.req) + ": deadline passed before the database actor could run it"}
	}
	return s.submit(j)
}

func kind(req any) string {
	if _, ok := req.(*messages.Exec); ok {
		return "Exec"
	}
	return "Query"
}

// submit starts j on a new worker when fewer than Workers run and j may
// run, else queues it; the error is its refusal: its peer has
// PerPeerQueue statements waiting already, or the queue is full.
func (s *State) submit(j *job) *messages.Error {
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	o := q.opts
	// With a worker free nothing waiting is ready: j goes before none.
	if q.free() && s.ready(j, time.Now(), s.life.Err() != nil) {
		s.take(j)
		s.spawn(j)
		return nil
	}
	if j.peer != nil {
		if l := q.peers[j.peer.Peer]; l != nil && l.waiting >= o.PerPeerQueue {
			return &messages.Error{Code: messages.Code_CODE_QUOTA_EXCEEDED, Database: s.name,
				Message: fmt.Sprintf("%s: peer %q already has %d statements waiting for a query worker on %s (PerPeerQueue), "+
					"beside the %d it may run at once (PerPeer): nothing was run, wait for one to finish",
					kind(j.req), j.peer.Peer, o.PerPeerQueue, messages.DisplayName(s.name), o.PerPeer)}
		}
	}
	if len(q.queue) >= o.Queue {
		return &messages.Error{Code: messages.Code_CODE_OVERLOADED, Database: s.name,
			Message: fmt.Sprintf("%s: every query worker (%d) is busy and the queue (%d) is full: nothing was run, retry later", kind(j.req), o.Workers, o.Queue)}
	}
	q.queue = append(q.queue, j)
	if j.peer != nil {
		q.load(j.peer.Peer).waiting++
		j.slot = slotWaiting
		// Past its deadline it may be taken even when its peer is at its
		// cap (to be answered): then it must not wait for a worker's
		// next statement to end.
		j.timer = time.AfterFunc(time.Until(j.deadline), func() { s.expired(j) })
	}
	return nil
}

// load is peer's load, made if it has none. Under mu.
func (q *queries) load(peer string) *load {
	l := q.peers[peer]
	if l == nil {
		if q.peers == nil {
			q.peers = map[string]*load{}
		}
		l = &load{}
		q.peers[peer] = l
	}
	return l
}

// ready reports whether j, new or waiting, may start now: a local
// statement always; a peer's while its peer runs fewer than PerPeer, or
// when it would not run anyway (its deadline passed, or the database is
// closed for good): then it is only answered. Under mu.
func (s *State) ready(j *job, now time.Time, closed bool) bool {
	if j.peer == nil {
		return true
	}
	if l := s.queries.peers[j.peer.Peer]; l == nil || l.running < s.queries.opts.PerPeer {
		return true
	}
	return closed || !now.Before(j.deadline)
}

// take moves j, ready and no longer queued, from waiting to running: it
// holds one of its peer's PerPeer slots, unless its peer has none free (it
// is ready only to be answered: late). Under mu.
func (s *State) take(j *job) {
	q := &s.queries
	if j.peer == nil {
		return
	}
	l := q.load(j.peer.Peer)
	if j.slot == slotWaiting {
		l.waiting--
		j.timer.Stop()
		j.timer = nil
	}
	j.slot = slotNone
	if l.running < q.opts.PerPeer {
		l.running++
		j.slot = slotRunning
	} else {
		j.late = true
	}
	q.tidy(j.peer.Peer)
}

// tidy forgets peer's load once it has nothing. Under mu.
func (q *queries) tidy(peer string) {
	if l := q.peers[peer]; l != nil && l.running == 0 && l.waiting == 0 {
		delete(q.peers, peer)
	}
}

// give gives back the PerPeer slot take counted, at most once: a waiting
// statement of the peer may start on a free worker.
func (s *State) give(j *job) {
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.slot != slotRunning {
		return
	}
	j.slot = slotNone
	l := q.peers[j.peer.Peer]
	l.running--
	waiting := l.waiting > 0
	q.tidy(j.peer.Peer)
	if waiting {
		s.dispatch()
	}
}

// expired wakes the queue when a waiting peer's statement reaches its
// deadline: it is ready now, to be answered CODE_TIMEOUT.
func (s *State) expired(j *job) {
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.slot != slotWaiting {
		return // taken meanwhile
	}
	if d := time.Until(j.deadline); d > 0 {
		j.timer.Reset(d) // the wall clock went back
		return
	}
	s.dispatch()
}

// free reports whether a worker is free: one is parked, or fewer than
// Workers run. Under mu.
func (q *queries) free() bool { return len(q.parked) > 0 || q.workers < q.opts.Workers }

// spawn hands j, taken, to a parked worker, or starts one on it. Under mu.
func (s *State) spawn(j *job) {
	q := &s.queries
	if n := len(q.parked); n > 0 {
		ch := q.parked[n-1]
		q.parked[n-1] = nil
		q.parked = q.parked[:n-1]
		ch <- j // buffered: never blocks
		q.settle()
		return
	}
	q.workers++
	q.settle()
	go s.work(j)
}

// settle keeps idle in step with how many workers are busy: neither
// parked nor gone. Under mu, after every change to either.
func (q *queries) settle() {
	switch busy := q.workers - len(q.parked); {
	case busy == 0 && q.idle != nil:
		close(q.idle)
		q.idle = nil
	case busy > 0 && q.idle == nil:
		q.idle = make(chan struct{})
	}
}

// retireParked makes every parked worker return: the pool closed.
func (s *State) retireParked() {
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, ch := range q.parked {
		ch <- nil
	}
	q.parked = nil
	q.settle() // they are busy until they return
}

// pop takes the oldest ready job out of the queue; nil when none is.
// Under mu.
func (s *State) pop() *job {
	q := &s.queries
	now, closed := time.Now(), s.life.Err() != nil
	for i, j := range q.queue {
		if !s.ready(j, now, closed) {
			continue // its peer is at its cap: it keeps its place
		}
		q.queue = slices.Delete(q.queue, i, i+1)
		if len(q.queue) == 0 {
			q.queue = nil
		}
		s.take(j)
		return j
	}
	return nil
}

// dispatch starts workers on ready jobs while a worker is free. Under mu.
func (s *State) dispatch() {
	q := &s.queries
	for q.free() {
		j := s.pop()
		if j == nil {
			return
		}
		s.spawn(j)
	}
}

// work runs j, then every job it can take or is handed while parked, and
// returns when it retires.
func (s *State) work(j *job) {
	var handoff chan *job // made when it first parks
	for j != nil {
		s.run(j)
		j = s.next(&handoff)
	}
}

// next takes the oldest ready job; with none ready, it parks the worker
// until a job is handed to it, or retires it: when the pool is closed, or
// the worker is told to (retireParked). No job waits while a worker is
// free.
func (s *State) next(handoff *chan *job) *job {
	q := &s.queries
	q.mu.Lock()
	for {
		if j := s.pop(); j != nil {
			q.mu.Unlock()
			return j
		}
		if s.DB() == nil || s.life.Err() != nil {
			break
		}
		if *handoff == nil {
			*handoff = make(chan *job, 1)
		}
		q.parked = append(q.parked, *handoff)
		q.settle()
		q.mu.Unlock()
		if j := <-*handoff; j != nil {
			return j
		}
		// Told to retire. Until now it counted as busy, so a statement
		// that came meanwhile (the pool open again) may have been queued
		// for want of a free worker: it looks again before it goes.
		q.mu.Lock()
	}
	q.workers--
	q.settle()
	q.mu.Unlock()
	return nil
}

// waitWorkers waits until no query worker is busy — each is parked or
// gone, and after the pool closed each is gone — or ctx ends.
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
			return fmt.Errorf("%s: query workers still running: %w", messages.DisplayName(s.name), context.Cause(ctx))
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
// reported; the worker carries on. However it ends, the job's peer slot
// is given back before the reply leaves, so a peer that waits for its
// reply never finds its own slot still taken, and a statement of the peer
// that waited for the slot may start on a free worker.
func (s *State) run(j *job) {
	var reply any
	defer func() {
		if r := recover(); r != nil {
			reply = s.crashed(j, r)
		}
		s.give(j)
		j.reply(reply)
	}()
	reply = s.execute(j)
}

func (s *State) crashed(j *job, r any) any {
	reason := crash.Wrap(r, s.Scrub).Reason
	s.logger.Error("dbactor: query worker crashed; carrying on", "message", fmt.Sprintf("%T", j.req),
		"reason", reason, "stack", s.Scrub(string(debug.Stack())))
	s.publish(j.sys, &messages.ActorCrashed{Actor: s.PID().GetId(), Database: s.name,
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
	if j.late || !time.Now().Before(j.deadline) {
		return fail(messages.Code_CODE_TIMEOUT, "deadline passed while waiting for a query worker: nothing was run")
	}
	ctx, cancel := context.WithDeadline(s.life, j.deadline)
	defer cancel()
	ctx, cut := context.WithCancelCause(ctx)
	defer cut(nil)
	db := s.bind(j, cut)
	if db == nil {
		return fail(messages.Code_CODE_NOT_CONNECTED, messages.DisplayName(s.name)+" was disconnected while the statement waited for a worker: nothing was run")
	}
	defer s.unbind(j)
	j.faults.Hit(faults.QueryWorker, s.PID(), j.req)

	var reply any
	var fn func(ctx context.Context, q Querier) error
	switch m := j.req.(type) {
	case *messages.Query:
		res := &messages.QueryResult{}
		reply = res
		fn = func(ctx context.Context, q Querier) error {
			return s.query(ctx, q, m, j, res, s.peerArgs(j))
		}
	case *messages.Exec:
		res := &messages.ExecResult{}
		reply = res
		fn = func(ctx context.Context, q Querier) error {
			return exec(ctx, q, j.sql, s.peerArgs(j), res)
		}
	}
	var err error
	switch {
	case s.ForceRollback():
		if s.constrained(j) { // refused by admit already; never run unconstrained
			return fail(messages.Code_CODE_UNSUPPORTED, sandboxRefusal(s.name))
		}
		err = s.InSandbox(ctx, fn)
	case s.cfg.Dialect == dsn.Postgres:
		err = s.runPostgres(ctx, db, j, reply)
	default:
		err = s.runSQLite(ctx, db, j, fn)
	}
	if err == nil {
		return reply
	}
	e := s.classify(ctx, db, err)
	s.logger.Debug("dbactor: statement failed", "request", kind(j.req), "code", e.GetCode().String(), "error", e.GetMessage())
	return messages.FailedReply(j.req, e)
}

// exec runs an Exec's statement into res.
func exec(ctx context.Context, q Querier, sql string, args []any, res *messages.ExecResult) error {
	r, err := q.ExecContext(ctx, sql, args...)
	if err != nil {
		return err
	}
	res.RowsAffected, err = r.RowsAffected()
	return err
}

// limits are the most rows and bytes m's result may have.
func (s *State) limits(m *messages.Query) (maxRows uint32, maxBytes uint64) {
	maxRows, maxBytes = m.GetMaxRows(), m.GetMaxBytes()
	if maxRows == 0 {
		maxRows = s.queries.opts.MaxRows
	}
	if maxBytes == 0 {
		maxBytes = s.queries.opts.MaxBytes
	}
	return maxRows, min(maxBytes, MaxBytesLimit)
}

// tooLarge is the reply error of a Query whose result grew beyond
// maxBytes.
func (s *State) tooLarge(maxBytes uint64) *messages.Error {
	return &messages.Error{Code: messages.Code_CODE_LIMIT_EXCEEDED, Database: s.name,
		Message: fmt.Sprintf("Query: the result is larger than max_bytes=%d bytes: narrow the query (LIMIT, fewer or shorter columns) or raise max_bytes (at most %d)", maxBytes, MaxBytesLimit)}
}

// query runs a Query (its SQL with args) on q into res (see readRows).
func (s *State) query(ctx context.Context, q Querier, m *messages.Query, j *job, res *messages.QueryResult, args []any) error {
	rows, err := q.QueryContext(ctx, j.sql, args...)
	if err != nil {
		_, maxBytes := s.limits(m)
		return s.bodyTooLarge(err, maxBytes)
	}
	return s.readRows(m, &sqlRows{rows: rows}, res)
}

// queryPostgres runs a Query on a pgx connection into res (see readRows);
// opts go before its arguments (an exec mode).
func (s *State) queryPostgres(ctx context.Context, conn *pgx.Conn, m *messages.Query, j *job, res *messages.QueryResult, opts ...any) error {
	rows, err := queryPg(ctx, conn, j.sql, j.args, opts...)
	if err != nil {
		_, maxBytes := s.limits(m)
		return s.bodyTooLarge(err, maxBytes)
	}
	return s.readRows(m, rows, res)
}

// readRows reads a Query's rows into res, failing with
// CODE_LIMIT_EXCEEDED as soon as the result grows beyond its limits.
func (s *State) readRows(m *messages.Query, rows rowReader, res *messages.QueryResult) error {
	maxRows, maxBytes := s.limits(m)
	defer func() { _ = rows.close() }()
	names, types, err := rows.columns()
	if err != nil {
		return err
	}
	// size is what the encoded QueryResult has so far, framing included:
	// the reply must fit in one gRPC message when it crosses nodes, and
	// the column list counts as much as the rows.
	var size uint64
	res.Columns = make([]*messages.Column, len(names))
	for i, name := range names {
		res.Columns[i] = &messages.Column{Name: name, Type: types[i]}
		size += uint64(protowire.SizeTag(1) + protowire.SizeBytes(proto.Size(res.Columns[i])))
	}
	if size > maxBytes {
		res.Columns = nil
		return s.tooLarge(maxBytes)
	}
	vals := make([]any, len(names))
	for rows.next() {
		if uint64(len(res.Rows)) >= uint64(maxRows) {
			return &messages.Error{Code: messages.Code_CODE_LIMIT_EXCEEDED, Database: s.name,
				Message: fmt.Sprintf("Query: the result has more than max_rows=%d rows: narrow the query (LIMIT, WHERE) or raise max_rows", maxRows)}
		}
		if err := rows.scan(vals); err != nil {
			return err
		}
		row := &messages.Row{Values: make([]*messages.Value, len(vals))}
		for i, v := range vals {
			val, err := sqlvalue.FromScan(v, types[i])
			if err != nil {
				return s.errorOf(messages.Code_CODE_UNSUPPORTED, fmt.Sprintf("Query: column %q", names[i]), err)
			}
			row.Values[i] = val
		}
		size += uint64(protowire.SizeTag(2) + protowire.SizeBytes(proto.Size(row)))
		if size > maxBytes {
			return s.tooLarge(maxBytes)
		}
		res.Rows = append(res.Rows, row)
	}
	return s.bodyTooLarge(rows.err(), maxBytes)
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
		return s.errorOf(messages.Code_CODE_CLOSED, "database closed while the statement ran", err)
	case errors.Is(err, ErrSandboxClosed), errors.Is(context.Cause(ctx), errDisconnected):
		return s.errorOf(messages.Code_CODE_NOT_CONNECTED, messages.DisplayName(s.name)+" was disconnected while the statement ran", err)
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		return s.errorOf(messages.Code_CODE_TIMEOUT, "deadline passed while the statement ran", err)
	case errors.As(err, &pgErr):
		return s.errorOf(messages.Code_CODE_QUERY, "", err)
	case s.DB() != db:
		// The pool closed between taking it and using it.
		return s.errorOf(messages.Code_CODE_NOT_CONNECTED, messages.DisplayName(s.name)+" was disconnected while the statement ran", err)
	}
	return s.errorOf(messages.Code_CODE_QUERY, "", err)
}
