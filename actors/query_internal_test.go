package actors

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/dsn"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

// spawnQuery starts a database actor on an SQLite file, connected, as the
// supervisor would, on an actor system of its own with a fault injector
// (faults.For(sys)).
func spawnQuery(t *testing.T, url string, opts StateOptions, secrets ...string) (*actor.ActorSystem, *State) {
	t.Helper()
	cfg, err := dsn.Parse(url)
	require.NoError(t, err)
	sys := testdb.ActorSystem(t)
	faults.Install(sys)
	s := newState("q", cfg, opts)
	s.alsoScrub(secrets...)
	pid := sys.Root.Spawn(DatabaseProps(s))
	require.True(t, pid.Equal(s.PID()), "spawning records the PID")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, request.WaitStopped(ctx, sys, pid, false))
		s.Shutdown()
		require.NoError(t, s.WaitClosed(ctx))
	})
	r := ask1(t, sys, pid, &messages.Connect{}).(*messages.ConnectResult)
	require.Empty(t, r.GetErrors())
	return sys, s
}

func ask1(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, msg any) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := request.Request(ctx, sys, pid, msg, 0)
	require.NoError(t, err)
	return reply
}

func waitReply(t *testing.T, p *request.Pending) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := p.Wait(ctx, nil)
	require.NoError(t, err)
	return reply
}

// gate holds the statements that reach faults.QueryWorker until opened.
type gate struct {
	reached chan string // the SQL of each statement held
	open    chan struct{}
}

// sqlOf is the SQL of a statement a query worker holds.
func sqlOf(msg any) string {
	switch m := msg.(type) {
	case *messages.Query:
		return m.GetSql()
	case *messages.Exec:
		return m.GetSql()
	}
	return ""
}

func armGate(t *testing.T, sys *actor.ActorSystem, match string) *gate {
	g := &gate{reached: make(chan string, 16), open: make(chan struct{})}
	disarm := faults.For(sys).Arm(faults.QueryWorker, func(_ *actor.PID, msg any) {
		sql := sqlOf(msg)
		if !strings.Contains(sql, match) {
			return
		}
		g.reached <- sql
		<-g.open
	})
	t.Cleanup(disarm)
	t.Cleanup(g.release) // before disarm: a held worker must not outlive the test
	return g
}

func (g *gate) release() {
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gate) wait(t *testing.T) string {
	t.Helper()
	select {
	case sql := <-g.reached:
		return sql
	case <-time.After(10 * time.Second):
		t.Fatal("no statement reached the worker")
		return ""
	}
}

func sqliteURL(t *testing.T) string { return "sqlite:///" + filepath.Join(t.TempDir(), "q.db") }

func queryErr(t *testing.T, reply any) *messages.Error {
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

// One worker, a queue of one: a third statement is refused at once while
// the first runs and the second waits; the actor keeps answering; they
// run in order once the worker is free; and the counts survive a restart
// of the actor.
func TestQueryWorkersQueueAndRestart(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 1, Queue: 1}})
	g := armGate(t, sys, "held")
	pid := s.PID()

	first := request.Send(sys, pid, &messages.Query{Sql: "SELECT 1 AS held"}, nil, nil)
	defer first.Close()
	g.wait(t) // on the worker

	// A crash restarts the actor; the worker and its queue live in State.
	sys.Root.Send(pid, &faults.Panic{Value: "boom"})
	st := ask1(t, sys, pid, &messages.GetStatus{}).(*messages.Status)
	require.True(t, st.GetConnected())

	second := request.Send(sys, pid, &messages.Exec{Sql: "CREATE TABLE t (n INTEGER)"}, nil, nil)
	defer second.Close()
	third := ask1(t, sys, pid, &messages.Query{Sql: "SELECT 3"})
	e := queryErr(t, third)
	require.Equal(t, messages.Code_CODE_OVERLOADED, e.GetCode(), e.GetMessage())
	require.Contains(t, e.GetMessage(), "(1)")
	require.ErrorIs(t, e, messages.ErrOverloaded)

	// The mailbox is free while the worker is held.
	st = ask1(t, sys, pid, &messages.GetStatus{}).(*messages.Status)
	require.EqualValues(t, 1, st.GetRefCount())

	g.release()
	r := waitReply(t, first).(*messages.QueryResult)
	require.Nil(t, r.GetError())
	require.Len(t, r.GetRows(), 1)
	require.Nil(t, waitReply(t, second).(*messages.ExecResult).GetError())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.waitWorkers(ctx))
	s.queries.mu.Lock()
	require.Equal(t, len(s.queries.parked), s.queries.workers, "a worker that is not parked")
	require.Empty(t, s.queries.queue)
	require.Empty(t, s.queries.running)
	s.queries.mu.Unlock()
}

// A panic on a worker is answered CODE_INTERNAL without any password, is
// reported, and frees the worker.
func TestQueryWorkerPanic(t *testing.T) {
	t.Parallel()
	var crashed atomic.Pointer[messages.ActorCrashed]
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{
		Query: QueryOptions{Workers: 1, Queue: 1},
		Events: func(ev messages.Event) {
			if c, ok := ev.(*messages.ActorCrashed); ok {
				crashed.Store(c)
			}
		},
	}, "hunter2secret")
	disarm := faults.For(sys).Arm(faults.QueryWorker, func(_ *actor.PID, msg any) {
		if q, ok := msg.(*messages.Query); ok && strings.Contains(q.GetSql(), "boom") {
			panic("driver exploded near hunter2secret")
		}
	})
	defer disarm()
	for _, msg := range []any{&messages.Query{Sql: "SELECT 'boom'"}, &messages.Query{Sql: "SELECT 'boom' AS again"}} {
		e := queryErr(t, ask1(t, sys, s.PID(), msg))
		require.Equal(t, messages.Code_CODE_INTERNAL, e.GetCode())
		require.Contains(t, e.GetMessage(), "driver exploded")
		require.NotContains(t, e.GetMessage(), "hunter2secret")
	}
	c := crashed.Load()
	require.NotNil(t, c)
	require.NotContains(t, c.GetReason(), "hunter2secret")
	require.Equal(t, "*messages.Query", c.GetMessageType())
	// The one worker is free again.
	r := ask1(t, sys, s.PID(), &messages.Query{Sql: "SELECT 2"}).(*messages.QueryResult)
	require.Nil(t, r.GetError())
}

// A statement held before it runs while its pool closes is answered
// CODE_NOT_CONNECTED; one queued behind it too, without running.
func TestQueryPoolClosedMeanwhile(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 1, Queue: 4}})
	g := armGate(t, sys, "held")
	pid := s.PID()
	first := request.Send(sys, pid, &messages.Exec{Sql: "CREATE TABLE held (n INTEGER)"}, nil, nil)
	defer first.Close()
	g.wait(t)
	second := request.Send(sys, pid, &messages.Exec{Sql: "CREATE TABLE queued (n INTEGER)"}, nil, nil)
	defer second.Close()
	// The disconnect is answered while the statement is held: it does not
	// wait for it.
	d := ask1(t, sys, pid, &messages.Disconnect{}).(*messages.DisconnectResult)
	require.Empty(t, d.GetErrors())
	require.True(t, d.GetClosed())
	g.release()
	for _, p := range []*request.Pending{first, second} {
		e := queryErr(t, waitReply(t, p))
		require.Equal(t, messages.Code_CODE_NOT_CONNECTED, e.GetCode(), e.GetMessage())
		require.ErrorIs(t, e, messages.ErrNotConnected)
		require.Contains(t, e.GetMessage(), `database "q" was disconnected`)
	}
}

// A statement whose deadline passes while it waits in the queue is
// answered CODE_TIMEOUT without running.
func TestQueryExpiresInQueue(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 1, Queue: 4}})
	g := armGate(t, sys, "held")
	pid := s.PID()
	first := request.Send(sys, pid, &messages.Query{Sql: "SELECT 1 AS held"}, nil, nil)
	defer first.Close()
	g.wait(t)
	d := time.Now().Add(100 * time.Millisecond)
	second := request.Send(sys, pid, &messages.Exec{Sql: "CREATE TABLE never (n INTEGER)", Deadline: deadline.Proto(d)}, nil, nil)
	defer second.Close()
	// Nothing to synchronise with: the worker is held until the deadline
	// is behind us, which only the clock can tell.
	<-time.After(time.Until(d))
	g.release()
	require.Nil(t, queryErr(t, waitReply(t, first)))
	e := queryErr(t, waitReply(t, second))
	require.Equal(t, messages.Code_CODE_TIMEOUT, e.GetCode(), e.GetMessage())
	require.Contains(t, e.GetMessage(), "nothing was run")
	r := ask1(t, sys, pid, &messages.Query{Sql: "SELECT count(*) FROM sqlite_master WHERE name = 'never'"}).(*messages.QueryResult)
	require.Nil(t, r.GetError())
	require.EqualValues(t, 0, r.GetRows()[0].GetValues()[0].GetInt())
}

func TestQueryOptions(t *testing.T) {
	t.Parallel()
	require.Equal(t, QueryOptions{Workers: DefaultQueryWorkers, Queue: DefaultQueryQueue, MaxRows: DefaultMaxRows, MaxBytes: DefaultMaxBytes,
		PerPeer: DefaultQueryWorkers / 2, PerPeerQueue: DefaultQueryQueue / 4, MaxSQL: DefaultMaxSQL},
		QueryOptions{}.withDefaults())
	require.Equal(t, MaxBytesLimit, QueryOptions{MaxBytes: MaxBytesLimit + 1}.withDefaults().MaxBytes)
	// One peer never takes every worker, but always gets one.
	require.Equal(t, 1, QueryOptions{Workers: 1}.withDefaults().PerPeer)
	require.Equal(t, 1, QueryOptions{Workers: 3}.withDefaults().PerPeer)
	require.Equal(t, 8, QueryOptions{Workers: 16}.withDefaults().PerPeer)
	require.Equal(t, 16, QueryOptions{Workers: 16, PerPeer: 16}.withDefaults().PerPeer)
	// Nor fills the queue, but may always wait.
	require.Equal(t, 1, QueryOptions{Queue: 1}.withDefaults().PerPeerQueue)
	require.Equal(t, 1, QueryOptions{Queue: 7}.withDefaults().PerPeerQueue)
	require.Equal(t, 2, QueryOptions{Queue: 8}.withDefaults().PerPeerQueue)
	require.Equal(t, 5, QueryOptions{Queue: 8, PerPeerQueue: 5}.withDefaults().PerPeerQueue)
	require.NoError(t, QueryOptions{}.Validate())
	require.NoError(t, QueryOptions{Workers: 1, Queue: 1, MaxRows: 1, MaxBytes: MaxBytesLimit, PerPeer: 1, PerPeerQueue: 1, MaxSQL: 1}.Validate())
	err := QueryOptions{Workers: -1, Queue: -2, MaxBytes: MaxBytesLimit + 1, PerPeer: -3, MaxSQL: -4, PerPeerQueue: -5}.Validate()
	require.ErrorContains(t, err, "Workers is -1")
	require.ErrorContains(t, err, "Queue is -2")
	require.ErrorContains(t, err, "MaxBytes is 3145729")
	require.ErrorContains(t, err, "PerPeer is -3")
	require.ErrorContains(t, err, "MaxSQL is -4")
	require.ErrorContains(t, err, "PerPeerQueue is -5")
}

// TestWorkerParks: a worker with nothing left to run parks while its pool
// is open, and the next statement goes to it instead of to a new
// goroutine; closing the pool retires it, and closing the database for
// good leaves no worker behind.
func TestWorkerParks(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 2}})
	pid := s.PID()
	counts := func() (workers, parked int) {
		s.queries.mu.Lock()
		defer s.queries.mu.Unlock()
		return s.queries.workers, len(s.queries.parked)
	}
	settled := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.waitWorkers(ctx))
	}
	for i := range 5 {
		r := ask1(t, sys, pid, &messages.Query{Sql: fmt.Sprintf("SELECT %d", i)}).(*messages.QueryResult)
		require.Nil(t, r.GetError())
		settled()
		w, p := counts()
		require.Equal(t, 1, w, "statement %d: one worker, reused", i)
		require.Equal(t, 1, p, "statement %d: parked", i)
	}

	require.True(t, ask1(t, sys, pid, &messages.Disconnect{}).(*messages.DisconnectResult).GetClosed())
	settled()
	w, p := counts()
	require.Zero(t, w, "a worker outlived its pool")
	require.Zero(t, p)

	// Open again: a new worker, parked until the database closes for good.
	require.Empty(t, ask1(t, sys, pid, &messages.Connect{}).(*messages.ConnectResult).GetErrors())
	require.Nil(t, ask1(t, sys, pid, &messages.Query{Sql: "SELECT 1"}).(*messages.QueryResult).GetError())
	settled()
	w, p = counts()
	require.Equal(t, 1, w)
	require.Equal(t, 1, p)
	s.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.WaitClosed(ctx))
	w, p = counts()
	require.Zero(t, w, "a worker outlived its database")
	require.Zero(t, p)
}

// TestRetiringWorkerLooksAgain: a worker told to retire still counts as
// busy until it runs, so a statement submitted in that window (the pool
// closed and opened again) is queued for want of a free worker; the
// worker takes it before it goes, rather than leave it waiting.
func TestRetiringWorkerLooksAgain(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 1}})
	require.Nil(t, ask1(t, sys, s.PID(), &messages.Query{Sql: "SELECT 1"}).(*messages.QueryResult).GetError())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.waitWorkers(ctx)) // parked
	q := &s.queries

	q.mu.Lock()
	require.Len(t, q.parked, 1)
	// The body of retireParked, as startClose runs it; then, before the
	// worker runs, a statement comes to the pool open again and finds no
	// free worker, so submit queues it.
	for _, ch := range q.parked {
		ch <- nil
	}
	q.parked = nil
	q.settle()
	require.False(t, q.free())
	j := &job{sys: sys, req: &messages.Query{Sql: "SELECT 2"}, sql: "SELECT 2", deadline: time.Now().Add(time.Minute)}
	q.queue = append(q.queue, j)
	q.mu.Unlock()

	require.NoError(t, s.waitWorkers(ctx))
	q.mu.Lock()
	defer q.mu.Unlock()
	require.Empty(t, q.queue, "a statement left waiting while no worker runs")
	require.Equal(t, 1, q.workers)
	require.Len(t, q.parked, 1)
}
