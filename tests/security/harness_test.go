package security

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite" // the "sqlite" driver, to build the lite database

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/certs"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/node"
)

// callTimeout bounds every call of the victim.
const callTimeout = 15 * time.Second

// eventWait bounds the wait for an event of the database node.
const eventWait = 10 * time.Second

// wideColumn is the length of the name of lite's wide.big column (D3).
const wideColumn = 5 << 20

// env is the topology every row attacks.
type env struct {
	dir    string
	ca     *certs.CA
	db     *testnode.Child
	dbAddr string

	victim     *node.Node
	cl         *client.Client
	victimAddr string
	owner      *actor.PID
	callback   chan string // names of the models the victim's callback heard of
	cbPID      *actor.PID  // the victim's callback actor
	// victimDrops are the MessageDropped events of the victim's own node.
	victimDrops chan *messages.MessageDropped

	base   string // the database node's counts with the victim's alone ("main=2 lite=1")
	probes atomic.Int64

	accepts *acceptCounter // S8's bystander listener
}

// setup builds the topology: certificates, the lite file, the database
// node, the victim with its counts, table and callback.
func setup(t *testing.T) *env {
	pg := testdb.NewPostgresDatabase(t) // skips (fails under CI=true) without PostgreSQL
	e := &env{dir: t.TempDir(), callback: make(chan string, 64)}
	var err error
	e.ca, err = certs.NewCA("dbactor-security-ca")
	require.NoError(t, err)
	for _, name := range []string{"db", "victim", "attacker", "reader", "schemer"} {
		e.issue(t, name, certs.Options{})
	}
	// An expired certificate of the right CA.
	e.issue(t, "expired", certs.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	// A certificate of another CA ("rogue"); its holder trusts both CAs, so
	// only the database node's check of the client certificate stops it.
	rogue, err := certs.NewCA("dbactor-rogue-ca")
	require.NoError(t, err)
	rn, err := rogue.Issue("victim", certs.Options{}) // it even claims to be the victim
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "rogue.crt"), rn.CertPEM, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "rogue.key"), rn.KeyPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "rogue-ca.crt"), append(append([]byte{}, e.ca.PEM...), rogue.PEM...), 0o644))

	lite := filepath.Join(e.dir, "lite.db")
	makeLite(t, lite)

	e.db = testnode.Start(t, "db", envPGDSN+"="+pg, envLiteDSN+"=sqlite:///"+lite, envCertDir+"="+e.dir)
	e.dbAddr = e.db.Expect("ADDR ")

	vc, err := e.ca.Issue("victim", certs.Options{})
	require.NoError(t, err)
	e.victim, err = node.StartClient(node.Config{TLS: e.ca.TLS(vc), Logger: logger()})
	require.NoError(t, err)
	t.Cleanup(func() {
		// Before the database node goes (cleanups run last first).
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.cl.Close(ctx); err != nil {
			t.Errorf("closing the victim's client: %v", err)
		}
		if err := e.victim.Close(ctx); err != nil {
			t.Errorf("closing the victim's node: %v", err)
		}
	})
	e.victimAddr = e.victim.Address()
	e.victimDrops = make(chan *messages.MessageDropped, 256)
	e.victim.System.EventStream.Subscribe(func(ev any) {
		if m, ok := ev.(*messages.MessageDropped); ok {
			select {
			case e.victimDrops <- m:
			default:
			}
		}
	})
	e.cl, err = e.victim.Attach(e.dbAddr, registryName, client.WithCallTimeout(callTimeout))
	require.NoError(t, err)
	e.owner = e.cl.Owner()

	ctx := ctxFor(t, time.Minute)
	require.NoError(t, e.cl.Connect(ctx))
	_, err = e.cl.Database().Connect(ctx)
	require.NoError(t, err)
	for _, stmt := range []string{
		"CREATE SCHEMA victim",
		"CREATE TABLE victim.accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL)",
		"INSERT INTO victim.accounts VALUES (1, 'alice', 100), (2, 'bob', 200), (3, 'carol', 300)",
	} {
		_, err := e.cl.Database().Exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	e.cbPID, err = e.cl.RegisterCallbackFunc(ctx, "", func(m *messages.ModelRegistered) {
		select {
		case e.callback <- m.GetName():
		default:
		}
	})
	require.NoError(t, err)
	e.base = e.db.Call("status")
	require.Equal(t, "main=2 lite=1", e.base, "the victim's counts: a registry-wide connect and one more on main")
	e.accepts = newAcceptCounter(t)
	return e
}

func (e *env) issue(t *testing.T, name string, o certs.Options) {
	t.Helper()
	n, err := e.ca.Issue(name, o)
	require.NoError(t, err)
	_, err = e.ca.Write(e.dir, name, n)
	require.NoError(t, err)
}

// makeLite creates the SQLite file of the extra database "lite": a table
// with one row whose one column has a 5 MiB name (D3), made here because
// no statement a node runs may be that long (MaxSQL).
func makeLite(t *testing.T, path string) {
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	col := strings.Repeat("c", wideColumn)
	_, err = db.Exec(`CREATE TABLE wide ("` + col + `" INTEGER)`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO wide VALUES (1)`)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO notes VALUES (1, 'the victim''s note')`)
	require.NoError(t, err)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// --- the database node's events ---

// The database node is one child process for the whole suite, started by
// TestSecurity and called from its subtests: testnode.Child fails the test
// that started it, so a database node that dies or hangs fails
// TestSecurity itself (and the row that called it) — there is nothing to
// attack then anyway. Attackers are started by the row that uses them.

// mark is the number of events the database node has seen so far.
func (e *env) mark(t *testing.T) int {
	t.Helper()
	n, err := strconv.Atoi(e.db.Call("mark"))
	require.NoError(t, err)
	return n
}

// events are the database node's events of typ after since matching the
// filters, once there are n of them or eventWait passed (complete false).
func (e *env) events(t *testing.T, since int, typ string, n int, filters ...string) (evs []proto.Message, complete bool) {
	t.Helper()
	wait := eventWait
	if n == 0 {
		wait = 0
	}
	line := e.db.Call(fmt.Sprintf("await %d %s %d %d %s", since, typ, n, wait.Milliseconds(), strings.Join(filters, " ")))
	var res awaitResult
	require.NoError(t, json.Unmarshal([]byte(line), &res), "await answered %s", line)
	for _, ev := range res.Events {
		var m proto.Message
		switch ev.Type {
		case "AccessDenied":
			m = &messages.AccessDenied{}
		case "MessageDropped":
			m = &messages.MessageDropped{}
		case "CallerReleased":
			m = &messages.CallerReleased{}
		default:
			t.Fatalf("await answered an event of type %q", ev.Type)
		}
		require.NoError(t, protojson.Unmarshal(ev.JSON, m))
		evs = append(evs, m)
	}
	return evs, res.Complete
}

// awaitEvents requires n events (see events) and returns them.
func (e *env) awaitEvents(t *testing.T, since int, typ string, n int, filters ...string) []proto.Message {
	t.Helper()
	evs, ok := e.events(t, since, typ, n, filters...)
	require.True(t, ok, "the database node published %d %s events matching %v within %v, want %d: %v", len(evs), typ, filters, eventWait, n, evs)
	return evs
}

// noEvents requires that no event of typ after since matches the filters.
func (e *env) noEvents(t *testing.T, since int, typ string, filters ...string) {
	t.Helper()
	evs, _ := e.events(t, since, typ, 0, filters...)
	require.Empty(t, evs, "unexpected %s events", typ)
}

// --- rows ---

// row is one row of the table: it logs its SECURITY line when its
// subtest ends.
type row struct {
	t                     *testing.T
	id, attack, expected  string
	mu                    sync.Mutex
	observed              []string
	start                 time.Time
	intactDone, intactYes bool
}

func (e *env) row(t *testing.T, id, attack, expected string) *row {
	r := &row{t: t, id: id, attack: attack, expected: expected, start: time.Now()}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		observed := strings.Join(r.observed, "; ")
		if t.Failed() {
			observed = "FAILED: " + observed
		}
		intact := "no"
		if r.intactDone && r.intactYes {
			intact = "yes"
		} else if !r.intactDone {
			intact = "no (not checked)"
		}
		t.Logf("SECURITY | %s | %s | %s | %s | %s", cell(id), cell(attack), cell(expected),
			cell(fmt.Sprintf("%s (%v)", observed, time.Since(r.start).Round(10*time.Millisecond))), cell(intact))
	})
	return r
}

// cell keeps a table cell on one line and off the column separator.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "/")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.TrimSpace(s)
}

// see records what the row observed.
func (r *row) see(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observed = append(r.observed, fmt.Sprintf(format, args...))
	r.t.Logf("observed: "+format, args...)
}

// intact checks the victim (see the package doc) and records the answer;
// the test fails if it is not intact.
func (e *env) intact(r *row) {
	t := r.t
	t.Helper()
	err := e.check()
	r.mu.Lock()
	r.intactDone, r.intactYes = true, err == nil
	r.mu.Unlock()
	require.NoError(t, err, "the victim is not intact")
}

func (e *env) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if got := e.db.Call("status"); got != e.base {
		return fmt.Errorf("counts on the database node are %q, the victim's alone are %q", got, e.base)
	}
	for _, db := range []*client.RemoteDatabase{e.cl.Database(), e.cl.Extra(liteName)} {
		st, err := db.Status(ctx)
		if err != nil {
			return fmt.Errorf("the victim's status call of %q: %w", db.Name(), err)
		}
		if !st.Connected {
			return fmt.Errorf("database %q is not connected", db.Name())
		}
	}
	res, err := e.cl.Database().Query(ctx, "SELECT count(*)::bigint, sum(balance)::bigint FROM victim.accounts")
	if err != nil {
		return fmt.Errorf("the victim's query of its table: %w", err)
	}
	if got := fmt.Sprint(res.Rows); got != "[[3 600]]" {
		return fmt.Errorf("the victim's table holds %s (count, sum), want [[3 600]]", got)
	}
	if _, err := e.cl.Database().Query(ctx, "SELECT count(*) FROM widgets"); err != nil {
		return fmt.Errorf("the Widget model's table: %w", err)
	}
	res, err = e.cl.Extra(liteName).Query(ctx, "SELECT count(*) FROM notes")
	if err != nil {
		return fmt.Errorf("lite's table notes: %w", err)
	}
	if got := fmt.Sprint(res.Rows); got != "[[1]]" {
		return fmt.Errorf("lite's table notes holds %s rows, want [[1]]", got)
	}
	// The victim's callback still hears of registrations.
	name := fmt.Sprintf("Probe%d", e.probes.Add(1))
	e.db.Call("register " + name)
	timer := time.NewTimer(eventWait)
	defer timer.Stop()
	for {
		select {
		case got := <-e.callback:
			if got == name {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("the victim's callback did not hear of model %s within %v", name, eventWait)
		}
	}
}

// --- attackers ---

// peerNode is an attacker child process.
type peerNode struct {
	t      *testing.T
	e      *env
	c      *testnode.Child
	name   string
	addr   string
	system string
}

// attacker starts an attacker holding the certificate name ("" for
// plaintext); it is killed when the test ends.
func (e *env) attacker(t *testing.T, name string, extra ...string) *peerNode {
	t.Helper()
	envs := append([]string{envDBAddr + "=" + e.dbAddr, envCertDir + "=" + e.dir, envCertName + "=" + name}, extra...)
	c := testnode.Start(t, "attacker", envs...)
	f := strings.Fields(c.Expect("ADDR "))
	require.Len(t, f, 2)
	return &peerNode{t: t, e: e, c: c, name: name, addr: f[0], system: f[1]}
}

func (p *peerNode) call(cmd string, arg, out any) {
	p.t.Helper()
	b, err := json.Marshal(arg)
	require.NoError(p.t, err)
	line := p.c.Call(cmd + " " + string(b))
	require.NoError(p.t, json.Unmarshal([]byte(line), out), "%s answered %s", cmd, line)
}

// callWithin is call for a command that may take longer than Call waits.
func (p *peerNode) callWithin(wait time.Duration, cmd string, arg, out any) {
	p.t.Helper()
	b, err := json.Marshal(arg)
	require.NoError(p.t, err)
	p.c.Send(cmd + " " + string(b))
	line := p.c.ExpectWithin("OK ", wait)
	require.NoError(p.t, json.Unmarshal([]byte(line), out), "%s answered %s", cmd, line)
}

// ask sends m to the registry from the attacker's node and waits for the
// answer.
func (p *peerNode) ask(m proto.Message) outcome {
	p.t.Helper()
	return p.req(reqSpec{Target: pidSpec{ID: registryName}, Msg: specOf(m)})
}

func (p *peerNode) req(s reqSpec) outcome {
	p.t.Helper()
	var o outcome
	p.call("req", s, &o)
	return o
}

func (p *peerNode) raw(envs ...envSpec) []outcome {
	p.t.Helper()
	return p.rawBatch(batchSpec{Envelopes: envs})
}

func (p *peerNode) rawBatch(b batchSpec) []outcome {
	p.t.Helper()
	var o []outcome
	p.call("raw", b, &o)
	require.Len(p.t, o, len(b.Envelopes))
	return o
}

func (p *peerNode) open(s openSpec) openResult {
	p.t.Helper()
	var o openResult
	p.call("rawopen", s, &o)
	return o
}

func (p *peerNode) state(wait time.Duration) streamState {
	p.t.Helper()
	var s streamState
	p.call("rawstate", wait.Milliseconds(), &s)
	return s
}

func (p *peerNode) flood(s floodSpec) floodResult {
	p.t.Helper()
	var f floodResult
	p.callWithin(time.Minute, "flood", s, &f)
	return f
}

func (p *peerNode) heapOfDB() int64 {
	p.t.Helper()
	n, err := strconv.ParseInt(p.e.db.Call("heap"), 10, 64)
	require.NoError(p.t, err)
	return n
}

// kill ends the attacker (SIGKILL: no goodbye).
func (p *peerNode) kill() {
	p.t.Helper()
	p.c.Kill()
}

// --- outcomes ---

// code is the error code of an outcome's reply (CODE_UNSPECIFIED for a
// reply without error), or "" when no reply came.
func (o outcome) code() messages.Code {
	if e := replyError(o.Reply); e != nil {
		return e.GetCode()
	}
	return messages.Code_CODE_UNSPECIFIED
}

// String is what the row shows: the reply's error code (without CODE_),
// "ok" for a reply without one, or why no reply came.
func (o outcome) String() string {
	switch {
	case o.Reply == nil && o.Err != "":
		return o.Err
	case o.Reply == nil:
		return "nothing"
	}
	if e := replyError(o.Reply); e != nil {
		return strings.TrimPrefix(e.GetCode().String(), "CODE_")
	}
	return "ok"
}

func (o outcome) message() string {
	if e := replyError(o.Reply); e != nil {
		return e.GetMessage()
	}
	return ""
}

// denied requires a PERMISSION_DENIED reply.
func denied(t *testing.T, what string, o outcome) {
	t.Helper()
	require.Equal(t, messages.Code_CODE_PERMISSION_DENIED.String(), o.code().String(), "%s: %s (%s)", what, o, o.message())
	require.ErrorIs(t, replyError(o.Reply), client.ErrPermissionDenied)
}

// deadLetter requires the answer of a dropped request: a dead letter.
func deadLetter(t *testing.T, what string, o outcome) {
	t.Helper()
	require.Nil(t, o.Reply, "%s: answered %s", what, o)
	require.Equal(t, actor.ErrDeadLetter.Error(), o.Err, "%s", what)
	require.Less(t, o.TookMS, int64(2000), "%s: the dead letter took %d ms", what, o.TookMS)
}

// pidOf is a messages.Pid of pid.
func pidOf(pid *actor.PID) *messages.Pid {
	return &messages.Pid{Address: pid.GetAddress(), Id: pid.GetId()}
}

// --- S8's bystander ---

// acceptCounter is a TCP listener that counts the connections made to it:
// an arbitrary host:port an attacker would have the node dial.
type acceptCounter struct {
	ln   net.Listener
	n    atomic.Int64
	done chan struct{}
}

func newAcceptCounter(t *testing.T) *acceptCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := &acceptCounter{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.n.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-a.done
	})
	return a
}

func (a *acceptCounter) addr() string { return a.ln.Addr().String() }
