package actors

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/deadline"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/messages"
)

// requireLoad checks what peer has running and waiting on s.
func requireLoad(t *testing.T, s *State, peer string, want load) {
	t.Helper()
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	var got load
	if l := q.peers[peer]; l != nil {
		got = *l
	}
	require.Equal(t, want, got, "peer %q", peer)
}

// requireQueued checks the SQL of the statements waiting on s, in order.
func requireQueued(t *testing.T, s *State, want ...string) {
	t.Helper()
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	got := []string{}
	for _, j := range q.queue {
		got = append(got, j.sql)
	}
	if want == nil {
		want = []string{}
	}
	require.Equal(t, want, got)
}

// requireUnanswered checks that p has no reply yet.
func requireUnanswered(t *testing.T, p *request.Pending) {
	t.Helper()
	require.False(t, p.Replied(), "answered")
}

// synced returns once the actor has handled everything sent to it before:
// the statements sent are queued, running or refused.
func synced(t *testing.T, sys *actor.ActorSystem, s *State) {
	t.Helper()
	ask1(t, sys, s.PID(), &messages.GetStatus{})
}

// idle waits until no worker of s runs, and checks that nothing is left
// counted or queued.
func idle(t *testing.T, s *State) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.waitWorkers(ctx))
	q := &s.queries
	q.mu.Lock()
	defer q.mu.Unlock()
	require.Empty(t, q.peers)
	require.Empty(t, q.queue)
	require.Empty(t, q.running)
	require.Equal(t, len(q.parked), q.workers, "a worker that is not parked")
	require.LessOrEqual(t, q.workers, q.opts.Workers)
}

// valve holds each statement whose SQL contains match at
// faults.QueryWorker — on its worker, holding its peer's slot — until it
// is released by its SQL, and reports each as it arrives.
type valve struct {
	reached chan string
	mu      sync.Mutex
	open    map[string]chan struct{}
	all     bool
}

func armValve(t *testing.T, sys *actor.ActorSystem, match string) *valve {
	v := &valve{reached: make(chan string, 64), open: map[string]chan struct{}{}}
	disarm := faults.For(sys).Arm(faults.QueryWorker, func(_ *actor.PID, msg any) {
		sql := sqlOf(msg)
		if !strings.Contains(sql, match) {
			return
		}
		ch := v.gate(sql)
		v.reached <- sql
		<-ch
	})
	t.Cleanup(disarm)
	t.Cleanup(v.releaseAll) // before disarm: no held worker outlives the test
	return v
}

func (v *valve) gate(sql string) chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	ch, ok := v.open[sql]
	if !ok {
		ch = make(chan struct{})
		if v.all {
			close(ch)
		}
		v.open[sql] = ch
	}
	return ch
}

func (v *valve) release(sql string) {
	ch := v.gate(sql)
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (v *valve) releaseAll() {
	v.mu.Lock()
	v.all = true
	chs := make([]chan struct{}, 0, len(v.open))
	for _, ch := range v.open {
		chs = append(chs, ch)
	}
	v.mu.Unlock()
	for _, ch := range chs {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

// wait returns the SQL of the next statement held.
func (v *valve) wait(t *testing.T) string {
	t.Helper()
	select {
	case sql := <-v.reached:
		return sql
	case <-time.After(10 * time.Second):
		t.Fatal("no statement reached the worker")
		return ""
	}
}

// waitFor waits until the statements of sqls are all held, in any order.
func (v *valve) waitFor(t *testing.T, sqls ...string) {
	t.Helper()
	var got []string
	for range sqls {
		got = append(got, v.wait(t))
	}
	require.ElementsMatch(t, sqls, got)
}

// requireNone checks that no statement reached the valve since the last
// wait.
func (v *valve) requireNone(t *testing.T) {
	t.Helper()
	select {
	case sql := <-v.reached:
		t.Fatalf("%q reached a worker", sql)
	default:
	}
}

func peerQuery(peer, sql string) *PeerStatement {
	return &PeerStatement{Request: &messages.Query{Sql: sql}, Peer: peer}
}

// A peer's statements beyond PerPeer wait rather than being refused: a
// client with three at once gets three answers. No more than PerPeer of
// them run at once, and meanwhile another peer's and local statements run
// on the workers left.
func TestPeerConcurrencyWaits(t *testing.T) {
	eachDialect(t, func(t *testing.T, d dialect) {
		url := strings.Replace(strings.Replace(d.url(t), "pool_size=1", "pool_size=6", 1), "pool_max_conns=1", "pool_max_conns=6", 1)
		sys, s := spawnQuery(t, url, StateOptions{Query: QueryOptions{}}) // Workers 4, PerPeer 2
		v := armValve(t, sys, "held")
		pid := s.PID()
		sqls := []string{"SELECT 1 AS held_a1", "SELECT 2 AS held_a2", "SELECT 3 AS held_a3"}
		var ps []*request.Pending
		for _, sql := range sqls {
			p := request.Send(sys, pid, peerQuery("a", sql), nil, nil)
			defer p.Close()
			ps = append(ps, p)
		}
		v.waitFor(t, sqls[0], sqls[1]) // oldest first
		synced(t, sys, s)
		v.requireNone(t)
		requireLoad(t, s, "a", load{running: 2, waiting: 1})
		requireQueued(t, s, sqls[2])

		// Two workers are left: another peer's statements and local ones
		// run, two at a time, while the third of a's waits.
		for i := range 3 {
			b := request.Send(sys, pid, peerQuery("b", fmt.Sprintf("SELECT %d AS held_b", i)), nil, nil)
			defer b.Close()
			local := request.Send(sys, pid, &messages.Query{Sql: fmt.Sprintf("SELECT %d AS held_local", i)}, nil, nil)
			defer local.Close()
			v.waitFor(t, fmt.Sprintf("SELECT %d AS held_b", i), fmt.Sprintf("SELECT %d AS held_local", i))
			synced(t, sys, s)
			requireQueued(t, s, sqls[2])
			v.release(fmt.Sprintf("SELECT %d AS held_b", i))
			v.release(fmt.Sprintf("SELECT %d AS held_local", i))
			require.Nil(t, queryErr(t, waitReply(t, b)))
			require.Nil(t, queryErr(t, waitReply(t, local)))
		}
		v.requireNone(t)
		requireUnanswered(t, ps[2])

		// When one of a's ends, its third runs.
		v.release(sqls[1])
		require.Nil(t, queryErr(t, waitReply(t, ps[1])))
		require.Equal(t, sqls[2], v.wait(t))
		requireLoad(t, s, "a", load{running: 2})
		v.release(sqls[0])
		v.release(sqls[2])
		for _, p := range []*request.Pending{ps[0], ps[2]} {
			r := waitReply(t, p).(*messages.QueryResult)
			require.Nil(t, r.GetError())
			require.Len(t, r.GetRows(), 1)
		}
		idle(t, s)
	})
}

// On PostgreSQL, seen from the server: of a peer's three statements that
// block on a lock, two are on the server at once and the third waits for
// a worker; another peer and local statements run meanwhile; all three are
// answered once the lock is free.
func TestPeerConcurrencyOnServer(t *testing.T) {
	admin := testdb.NewPostgresDatabase(t)
	sys, s := spawnQuery(t, withParam(t, admin, "pool_max_conns", "6"), StateOptions{}) // Workers 4, PerPeer 2
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lock, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	defer func() { _ = lock.Close(context.Background()) }()
	_, err = lock.Exec(ctx, "SELECT pg_advisory_lock(4242)")
	require.NoError(t, err)

	const blocked = "SELECT pg_advisory_xact_lock_shared(4242), 'a' AS peer"
	pid := s.PID()
	var ps []*request.Pending
	for range 3 {
		p := request.Send(sys, pid, peerQuery("a", blocked), nil, nil)
		defer p.Close()
		ps = append(ps, p)
	}
	synced(t, sys, s)
	requireLoad(t, s, "a", load{running: 2, waiting: 1})
	// Until both are on the server, waiting for the lock.
	onServer := func() int {
		var n int
		require.NoError(t, lock.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = $1 AND wait_event_type = 'Lock'",
			blocked).Scan(&n))
		return n
	}
	n := onServer()
	for n < 2 && ctx.Err() == nil {
		n = onServer()
	}
	require.Equal(t, 2, n)

	r := ask1(t, sys, pid, peerQuery("b", "SELECT 'b'")).(*messages.QueryResult)
	require.Nil(t, r.GetError())
	require.Equal(t, "b", r.GetRows()[0].GetValues()[0].GetText())
	require.Equal(t, "local", scalar(t, sys, s, "SELECT 'local'"))
	require.Equal(t, 2, onServer(), "never more than PerPeer of a peer's statements on the server")
	requireLoad(t, s, "a", load{running: 2, waiting: 1})
	for _, p := range ps {
		requireUnanswered(t, p)
	}

	_, err = lock.Exec(ctx, "SELECT pg_advisory_unlock(4242)")
	require.NoError(t, err)
	for _, p := range ps {
		require.Nil(t, queryErr(t, waitReply(t, p)))
	}
	idle(t, s)
}

// A skipped statement keeps its place: a worker takes the oldest one whose
// peer is below its cap, and a peer's waiting one runs as soon as its
// peer's slot frees, whether a worker is free or the freeing one takes it,
// with no new statement arriving.
func TestPeerSkippedKeepsItsPlace(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 2}}) // PerPeer 1
	v := armValve(t, sys, "held")
	pid := s.PID()
	send := func(msg any) *request.Pending {
		p := request.Send(sys, pid, msg, nil, nil)
		t.Cleanup(p.Close)
		return p
	}
	a1 := send(peerQuery("a", "SELECT 'held a1'"))
	b1 := send(peerQuery("b", "SELECT 'held b1'"))
	v.waitFor(t, "SELECT 'held a1'", "SELECT 'held b1'")
	a2 := send(peerQuery("a", "SELECT 'held a2'"))
	local := send(&messages.Query{Sql: "SELECT 'held local'"})
	b2 := send(peerQuery("b", "SELECT 'held b2'"))
	synced(t, sys, s)
	requireQueued(t, s, "SELECT 'held a2'", "SELECT 'held local'", "SELECT 'held b2'")

	// b1's worker skips a2 (a is at its cap) and takes the local one.
	v.release("SELECT 'held b1'")
	require.Nil(t, queryErr(t, waitReply(t, b1)))
	require.Equal(t, "SELECT 'held local'", v.wait(t))
	requireQueued(t, s, "SELECT 'held a2'", "SELECT 'held b2'")
	// Then b2, b's slot being free again.
	v.release("SELECT 'held local'")
	require.Nil(t, queryErr(t, waitReply(t, local)))
	require.Equal(t, "SELECT 'held b2'", v.wait(t))
	requireQueued(t, s, "SELECT 'held a2'")
	requireUnanswered(t, a2)

	// Both workers busy: a1's own worker takes a2.
	v.release("SELECT 'held a1'")
	require.Nil(t, queryErr(t, waitReply(t, a1)))
	require.Equal(t, "SELECT 'held a2'", v.wait(t))
	requireQueued(t, s)

	// b3 waits for b2 while the other worker has nothing it may take;
	// when b2 ends, b3 runs, with nothing new arriving.
	v.release("SELECT 'held a2'")
	require.Nil(t, queryErr(t, waitReply(t, a2)))
	b3 := send(peerQuery("b", "SELECT 'held b3'"))
	synced(t, sys, s)
	requireQueued(t, s, "SELECT 'held b3'")
	requireLoad(t, s, "b", load{running: 1, waiting: 1})
	v.release("SELECT 'held b2'")
	require.Nil(t, queryErr(t, waitReply(t, b2)))
	require.Equal(t, "SELECT 'held b3'", v.wait(t))
	v.release("SELECT 'held b3'")
	require.Nil(t, queryErr(t, waitReply(t, b3)))
	v.requireNone(t)
	idle(t, s)
}

// The one worker free when a peer's slot frees is the one that ran the
// statement: it takes the peer's waiting one rather than retire.
func TestPeerSkippedOneWorker(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 1}})
	v := armValve(t, sys, "held")
	pid := s.PID()
	a1 := request.Send(sys, pid, peerQuery("a", "SELECT 'held a1'"), nil, nil)
	defer a1.Close()
	require.Equal(t, "SELECT 'held a1'", v.wait(t))
	a2 := request.Send(sys, pid, peerQuery("a", "SELECT 'held a2'"), nil, nil)
	defer a2.Close()
	synced(t, sys, s)
	requireLoad(t, s, "a", load{running: 1, waiting: 1})
	v.release("SELECT 'held a1'")
	require.Nil(t, queryErr(t, waitReply(t, a1)))
	require.Equal(t, "SELECT 'held a2'", v.wait(t))
	v.release("SELECT 'held a2'")
	require.Nil(t, queryErr(t, waitReply(t, a2)))
	idle(t, s)
}

// Beyond PerPeerQueue a peer's statement is refused with
// CODE_QUOTA_EXCEEDED, and with the shared queue full anyone's with
// CODE_OVERLOADED; one that can start at once is never refused for the
// queue. Nothing refused runs, and everything admitted is answered.
func TestPeerQueueLimits(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 2, Queue: 3, PerPeerQueue: 2}}) // PerPeer 1
	v := armValve(t, sys, "held")
	pid := s.PID()
	var admitted []*request.Pending
	send := func(msg any) {
		p := request.Send(sys, pid, msg, nil, nil)
		t.Cleanup(p.Close)
		admitted = append(admitted, p)
	}
	send(peerQuery("a", "SELECT 'held a1'"))
	require.Equal(t, "SELECT 'held a1'", v.wait(t))
	send(peerQuery("a", "SELECT 'a2'"))
	send(peerQuery("a", "SELECT 'a3'"))
	synced(t, sys, s)
	requireLoad(t, s, "a", load{running: 1, waiting: 2})

	e := queryErr(t, ask1(t, sys, pid, peerQuery("a", "SELECT 'a4'")))
	require.ErrorIs(t, e, messages.ErrQuotaExceeded)
	require.Contains(t, e.GetMessage(), `peer "a" already has 2 statements waiting for a query worker`)
	require.Contains(t, e.GetMessage(), "(PerPeerQueue)")
	require.Contains(t, e.GetMessage(), "nothing was run")

	// A worker is free: b's and local statements start at once, the
	// queue holding only a's.
	send(peerQuery("b", "SELECT 'held b1'"))
	require.Equal(t, "SELECT 'held b1'", v.wait(t))
	send(peerQuery("b", "SELECT 'b2'")) // fills the queue
	synced(t, sys, s)
	requireQueued(t, s, "SELECT 'a2'", "SELECT 'a3'", "SELECT 'b2'")
	for _, msg := range []any{peerQuery("c", "SELECT 'c1'"), &messages.Exec{Sql: "CREATE TABLE never (n INTEGER)"}} {
		e := queryErr(t, ask1(t, sys, pid, msg))
		require.ErrorIs(t, e, messages.ErrOverloaded)
		require.Contains(t, e.GetMessage(), "the queue (3) is full: nothing was run")
	}
	// Its own queue is the reason a's is refused, even with the queue full.
	require.ErrorIs(t, queryErr(t, ask1(t, sys, pid, peerQuery("a", "SELECT 'a4'"))), messages.ErrQuotaExceeded)

	v.release("SELECT 'held a1'")
	v.release("SELECT 'held b1'")
	for _, p := range admitted {
		require.Nil(t, queryErr(t, waitReply(t, p)))
	}
	r := ask1(t, sys, pid, &messages.Query{Sql: "SELECT count(*) FROM sqlite_master WHERE name = 'never'"}).(*messages.QueryResult)
	require.EqualValues(t, 0, r.GetRows()[0].GetValues()[0].GetInt())
	// Their slots came back: a has its whole queue again.
	send(peerQuery("a", "SELECT 'held again'"))
	require.Equal(t, "SELECT 'held again'", v.wait(t))
	send(peerQuery("a", "SELECT 'a5'"))
	send(peerQuery("a", "SELECT 'a6'"))
	synced(t, sys, s)
	requireLoad(t, s, "a", load{running: 1, waiting: 2})
	v.release("SELECT 'held again'")
	for _, p := range admitted[len(admitted)-3:] {
		require.Nil(t, queryErr(t, waitReply(t, p)))
	}
	idle(t, s)
}

// A statement skipped because its peer is at its cap, whose deadline
// passes while it waits, is answered CODE_TIMEOUT at its deadline, without
// running, though its peer's statement still runs; its slot comes back.
func TestPeerSkippedExpires(t *testing.T) {
	eachDialect(t, func(t *testing.T, d dialect) {
		url := strings.Replace(strings.Replace(d.url(t), "pool_size=1", "pool_size=2", 1), "pool_max_conns=1", "pool_max_conns=2", 1)
		sys, s := spawnQuery(t, url, StateOptions{Query: QueryOptions{Workers: 2}}) // PerPeer 1
		v := armValve(t, sys, "held")
		pid := s.PID()
		a1 := request.Send(sys, pid, peerQuery("a", "SELECT 'held a1'"), nil, nil)
		defer a1.Close()
		require.Equal(t, "SELECT 'held a1'", v.wait(t))
		soon := &messages.Query{Sql: "SELECT 'held a2'", Deadline: deadline.Proto(time.Now().Add(200 * time.Millisecond))}
		a2 := request.Send(sys, pid, &PeerStatement{Request: soon, Peer: "a"}, nil, nil)
		defer a2.Close()
		e := queryErr(t, waitReply(t, a2))
		require.Equal(t, messages.Code_CODE_TIMEOUT, e.GetCode(), e.GetMessage())
		require.Contains(t, e.GetMessage(), "deadline passed while waiting for a query worker: nothing was run")
		v.requireNone(t)
		requireUnanswered(t, a1)
		requireLoad(t, s, "a", load{running: 1})
		requireQueued(t, s)

		v.release("SELECT 'held a1'")
		require.Nil(t, queryErr(t, waitReply(t, a1)))
		require.Nil(t, queryErr(t, ask1(t, sys, pid, peerQuery("a", "SELECT 'a3'"))))
		idle(t, s)
	})
}

// A peer's statements waiting when the database closes for good are
// answered CODE_CLOSED without running, their slots given back.
func TestPeerWaitingWhenClosed(t *testing.T) {
	t.Parallel()
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: 2}}) // PerPeer 1
	v := armValve(t, sys, "held")
	pid := s.PID()
	a1 := request.Send(sys, pid, peerQuery("a", "SELECT 'held a1'"), nil, nil)
	defer a1.Close()
	require.Equal(t, "SELECT 'held a1'", v.wait(t))
	var waiting []*request.Pending
	for i := range 3 {
		p := request.Send(sys, pid, peerQuery("a", fmt.Sprintf("SELECT 'held a%d'", i+2)), nil, nil)
		defer p.Close()
		waiting = append(waiting, p)
	}
	synced(t, sys, s)
	requireLoad(t, s, "a", load{running: 1, waiting: 3})
	s.Shutdown()
	v.release("SELECT 'held a1'")
	waitReply(t, a1)
	for _, p := range waiting {
		require.ErrorIs(t, queryErr(t, waitReply(t, p)), messages.ErrClosed)
	}
	v.requireNone(t)
	idle(t, s)
}

// Many peers and local callers at once, some statements expiring while
// they wait: every statement is answered, no peer ever runs more than
// PerPeer, and whenever a worker is free no statement that may run waits.
func TestPeerSchedulingStress(t *testing.T) {
	t.Parallel()
	const workers, perPeer, peers, each = 4, 2, 6, 25
	sys, s := spawnQuery(t, sqliteURL(t), StateOptions{Query: QueryOptions{Workers: workers, PerPeer: perPeer, Queue: 1000, PerPeerQueue: each}})
	var mu sync.Mutex
	in := map[string]int{}
	var violations []string
	check := func() {
		q := &s.queries
		q.mu.Lock()
		defer q.mu.Unlock()
		if !q.free() {
			return
		}
		for _, j := range q.queue {
			if j.peer == nil || q.peers[j.peer.Peer].running < q.opts.PerPeer {
				violations = append(violations, fmt.Sprintf("%q waits with %d workers, %d parked", j.sql, q.workers, len(q.parked)))
			}
		}
	}
	disarm := faults.For(sys).Arm(faults.QueryWorker, func(_ *actor.PID, msg any) {
		q, ok := msg.(*messages.Query)
		if !ok {
			return
		}
		peer, _, _ := strings.Cut(strings.TrimPrefix(q.GetSql(), "SELECT '"), " ")
		mu.Lock()
		in[peer]++
		if peer != "local" && in[peer] > perPeer {
			violations = append(violations, fmt.Sprintf("peer %s runs %d", peer, in[peer]))
		}
		mu.Unlock()
		check()
		for range 20 {
			runtime.Gosched()
		}
		mu.Lock()
		in[peer]--
		mu.Unlock()
	})
	defer disarm()

	pid := s.PID()
	var ps []*request.Pending
	var short []bool
	for i := range each {
		for p := range peers + 1 {
			name := fmt.Sprintf("p%d", p)
			m := &messages.Query{Sql: fmt.Sprintf("SELECT '%s %d'", name, i)}
			exp := i%5 == 4
			if exp {
				m.Deadline = deadline.Proto(time.Now().Add(5 * time.Millisecond))
			}
			var msg any = &PeerStatement{Request: m, Peer: name}
			if p == peers {
				m.Sql = fmt.Sprintf("SELECT 'local %d'", i)
				msg = m
			}
			pp := request.Send(sys, pid, msg, nil, nil)
			defer pp.Close()
			ps = append(ps, pp)
			short = append(short, exp)
		}
	}
	timeouts := 0
	for i, p := range ps {
		e := queryErr(t, waitReply(t, p))
		if e != nil {
			timeouts++
			require.True(t, short[i], "%d: %s", i, e.GetMessage())
			require.Equal(t, messages.Code_CODE_TIMEOUT, e.GetCode(), e.GetMessage())
		}
	}
	t.Logf("%d statements, %d timed out", len(ps), timeouts)
	idle(t, s)
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, violations)
}
