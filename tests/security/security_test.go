package security

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/peer"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
	"github.com/dbactor/dbactor/supervisor"
)

// The database actors' ids, under the registry and its supervisor.
var (
	supervisorID = registryName + "/supervisor"
	dbMainID     = supervisorID + "/" + supervisor.ChildName("")
	dbLiteID     = supervisorID + "/" + supervisor.ChildName(liteName)
)

// TestSecurity replays every attack of issue 13 against a database node
// with mutual TLS and a policy (see the package doc). Each subtest is one
// row of the table `make security` prints.
func TestSecurity(t *testing.T) {
	if !testnode.Isolate(t) {
		return
	}
	start := time.Now()
	e := setup(t)
	t.Logf("topology ready in %v: database node %s, victim %s", time.Since(start).Round(time.Millisecond), e.dbAddr, e.victimAddr)

	rows := []struct {
		name string
		run  func(*testing.T)
	}{
		{"S1_ungranted_requests", e.s1},
		{"S1r_reader_writes", e.s1r},
		{"S2_force_disconnect", e.s2},
		{"S3_disconnect_as_victim", e.s3},
		{"S4_forged_terminated", e.s4},
		{"S5_stop_and_poison", e.s5},
		{"S6_untracked_connects", e.s6},
		{"S7_quotas", e.s7},
		{"S8_dial_arbitrary_address", e.s8},
		{"S9_malformed_envelopes", e.s9},
		{"S10_forged_events_to_victim", e.s10},
		{"S11_watch_flood", e.s11},
		{"S12_many_addresses", e.s12},
		{"S13_long_names", e.s13},
		{"M1_ungranted_migrations", e.m1},
		{"D1_expired_deadline", e.d1},
		{"D2_empty_drop_schema", e.d2},
		{"D3_huge_column_name", e.d3},
		{"D4_huge_value", e.d4},
		{"D5_endless_statements", e.d5},
		{"T1_wrong_ca", e.t1},
		{"T2_expired_certificate", e.t2},
		{"T3_claim_other_address", e.t3},
		{"T4_plaintext", e.t4},
		{"T5_same_identity_other_key", e.t5},
		{"T6_claim_own_address", e.t6},
	}
	for _, r := range rows {
		t.Run(r.name, r.run)
	}
	// S8 again, after every row: nothing ever dialled the bystander.
	require.Zero(t, e.accepts.n.Load(), "connections to S8's bystander listener over the whole suite")
	t.Logf("suite done in %v", time.Since(start).Round(time.Millisecond))
}

func registryTarget() pidSpec { return pidSpec{ID: registryName} }

func mainDB() *messages.Target { return &messages.Target{} }
func liteDB() *messages.Target { return &messages.Target{Database: liteName} }

// evilModel is a model an attacker would register.
func evilModel() *messages.ModelDef {
	return &messages.ModelDef{Name: "Evil", Table: "evil", Columns: []*messages.ColumnDef{
		{Name: "id", Type: messages.ColumnType_COLUMN_TYPE_BIGINT, PrimaryKey: true}}}
}

// ops counts the AccessDenied events by operation, sorted ("read×2 …").
func ops(evs []proto.Message) string {
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.(*messages.AccessDenied).GetOp()]++
	}
	var parts []string
	for op, c := range n {
		parts = append(parts, fmt.Sprintf("%s×%d", op, c))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// forgedHeader claims, in the envelope's own header, to come from the
// victim with every right.
func (e *env) forgedHeader() map[string]string {
	return map[string]string{peer.HeaderIdentity: "victim", peer.HeaderAddress: e.victimAddr,
		peer.HeaderAccess: peer.AccessWrite, peer.HeaderRole: "postgres"}
}

func (e *env) s1(t *testing.T) {
	r := e.row(t, "S1", "authenticated but ungranted peer (default grant): Exec DROP TABLE of the victim's table, Query of it, "+
		"Query pg_read_file, DropSchema cascade of its schema, CreateSchema, CreateAll, DropAll, RegisterModel, DeleteModel, Exec on lite; "+
		"Exec and Query again by raw batch with a forged header claiming the victim's identity and write access",
		"each PERMISSION_DENIED + AccessDenied")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	reqs := []struct {
		name string
		m    proto.Message
	}{
		{"Exec DROP TABLE", &messages.Exec{Sql: "DROP TABLE victim.accounts"}},
		{"Query victim.accounts", &messages.Query{Sql: "SELECT * FROM victim.accounts"}},
		{"Query pg_read_file", &messages.Query{Sql: "SELECT pg_read_file('/etc/hostname')"}},
		{"DropSchema victim cascade", &messages.DropSchema{Schema: "victim", Cascade: true}},
		{"CreateSchema", &messages.CreateSchema{Schema: "evil"}},
		{"CreateAll", &messages.CreateAll{}},
		{"DropAll", &messages.DropAll{}},
		{"RegisterModel", &messages.RegisterModel{Model: evilModel()}},
		{"DeleteModel Widget", &messages.DeleteModel{Name: "Widget"}},
		{"Exec on lite", &messages.Exec{Target: liteDB(), Sql: "DELETE FROM notes"}},
	}
	for _, q := range reqs {
		denied(t, q.name, a.ask(q.m))
	}
	// The same by raw batch, its header claiming the victim's identity and
	// write access: the node stamps its own.
	o := a.raw(
		envSpec{Target: registryTarget(), Msg: specOf(&messages.Exec{Sql: "DROP TABLE victim.accounts"}), Sender: "future", Header: e.forgedHeader()},
		envSpec{Target: registryTarget(), Msg: specOf(&messages.Query{Sql: "SELECT * FROM victim.accounts"}), Sender: "future", Header: e.forgedHeader()},
	)
	denied(t, "raw Exec with a forged header", o[0])
	denied(t, "raw Query with a forged header", o[1])
	n := len(reqs) + len(o)
	evs := e.awaitEvents(t, since, "AccessDenied", n, "peer=attacker", "address="+a.addr)
	require.Equal(t, "models×2 read×3 schema×4 write×3", ops(evs))
	r.see("%d/%d PERMISSION_DENIED (2 of them by raw batch with a forged dbactor-peer header); AccessDenied %s", n, n, ops(evs))
	e.intact(r)
}

func (e *env) s1r(t *testing.T) {
	r := e.row(t, "S1r", "reader (read grant, no write): writes smuggled into Query (DROP TABLE, DELETE … RETURNING, "+
		"a data-modifying WITH, two statements, transaction_read_only off; on lite: WITH … DELETE, PRAGMA query_only off "+
		"after a ';'), and Exec",
		"statements run read-only and fail; Exec PERMISSION_DENIED; nothing changes")
	a := e.attacker(t, "reader")
	for _, q := range []struct {
		name string
		m    *messages.Query
	}{
		{"DROP TABLE", &messages.Query{Sql: "DROP TABLE victim.accounts"}},
		{"DELETE RETURNING", &messages.Query{Sql: "DELETE FROM victim.accounts RETURNING id"}},
		{"WITH DELETE", &messages.Query{Sql: "WITH d AS (DELETE FROM victim.accounts RETURNING id) SELECT count(*) FROM d"}},
		{"two statements", &messages.Query{Sql: "COMMIT; DELETE FROM victim.accounts"}},
		{"read-write via set_config", &messages.Query{Sql: "SELECT set_config('transaction_read_only', 'off', true), (SELECT count(*) FROM victim.accounts)"}},
		{"lite WITH DELETE", &messages.Query{Target: liteDB(), Sql: "WITH x AS (SELECT 1) DELETE FROM notes RETURNING id"}},
		{"lite PRAGMA query_only off", &messages.Query{Target: liteDB(), Sql: "SELECT 1; PRAGMA query_only = 0; DELETE FROM notes"}},
		{"lite ';' in a comment", &messages.Query{Target: liteDB(), Sql: "SELECT 1 /* ; */; PRAGMA query_only = 0; DELETE FROM notes"}},
	} {
		o := a.ask(q.m)
		require.NotEqual(t, messages.Code_CODE_UNSPECIFIED, o.code(), "%s was answered %s: %v", q.name, o, o.Reply)
		r.see("%s: %s", q.name, o)
	}
	denied(t, "Exec", a.ask(&messages.Exec{Sql: "DELETE FROM victim.accounts"}))
	r.see("Exec: PERMISSION_DENIED")
	// Not an attack the boundary stops, and not asserted: a read grant runs
	// as the configured database user unless the grant names a Role.
	o := a.ask(&messages.Query{Sql: "SELECT length(pg_read_file('/etc/hostname')) > 0"})
	c := a.ask(&messages.Query{Sql: "COPY (SELECT 1) TO '/dev/null'"})
	r.see("(not asserted — reader without Grant.Role runs as the pool's user: pg_read_file %s, COPY … TO a server file %s)", o, c)
	e.intact(r)
}

func (e *env) s2(t *testing.T) {
	r := e.row(t, "S2", "Disconnect{force} of databases the victim holds (main, lite, registry-wide)", "PERMISSION_DENIED + AccessDenied (force)")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	for _, m := range []*messages.Disconnect{{Force: true, Target: mainDB()}, {Force: true, Target: liteDB()}, {Force: true}} {
		denied(t, "forced disconnect", a.ask(m))
	}
	evs := e.awaitEvents(t, since, "AccessDenied", 3, "peer=attacker", "op=force")
	r.see("3/3 PERMISSION_DENIED; AccessDenied %s", ops(evs))
	e.intact(r)
}

func (e *env) s3(t *testing.T) {
	r := e.row(t, "S3", "Disconnect{owner: the victim's owner PID} (main, lite, registry-wide); Disconnect without owner; "+
		"raw Disconnect with a forged dbactor-peer header naming the victim",
		"owner: PERMISSION_DENIED + AccessDenied; others give back nothing (closed=false)")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	owner := pidOf(e.owner)
	for _, m := range []*messages.Disconnect{{Owner: owner, Target: mainDB()}, {Owner: owner, Target: liteDB()}, {Owner: owner}} {
		denied(t, "disconnect as the victim's owner", a.ask(m))
	}
	evs := e.awaitEvents(t, since, "AccessDenied", 3, "peer=attacker", "reason~owner")
	r.see("owner=victim: 3/3 PERMISSION_DENIED, AccessDenied %s", ops(evs))
	for _, m := range []*messages.Disconnect{{Target: mainDB()}, {Target: liteDB()}, {}} {
		o := a.ask(m)
		require.Equal(t, "ok", o.String())
		d, err := o.Reply.decode()
		require.NoError(t, err)
		require.False(t, d.(*messages.DisconnectResult).GetClosed())
	}
	o := a.raw(envSpec{Target: registryTarget(), Msg: specOf(&messages.Disconnect{Target: mainDB()}), Sender: "future", Header: e.forgedHeader()})
	require.Equal(t, "ok", o[0].String())
	r.see("no owner: 3× closed=false; forged header: %s, closed=false", o[0])
	e.intact(r)
}

func (e *env) s4(t *testing.T) {
	r := e.row(t, "S4", "forged actor.Terminated{Who: the victim's owner / callback / node} to the registry, by normal send "+
		"and by raw batch (with a forged header)", "dropped (MessageDropped); no CallerReleased for the victim")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	who := []*actor.PID{e.owner, e.cbPID, actor.NewPID(e.victimAddr, "activator")}
	for _, w := range who {
		for _, why := range []actor.TerminatedReason{actor.TerminatedReason_Stopped, actor.TerminatedReason_AddressTerminated} {
			a.req(reqSpec{Target: registryTarget(), Mode: "send", Msg: specOf(&actor.Terminated{Who: w, Why: why})})
		}
	}
	var envs []envSpec
	for _, w := range who {
		envs = append(envs, envSpec{Target: registryTarget(), Msg: specOf(&actor.Terminated{Who: w}), Header: e.forgedHeader()})
	}
	a.raw(envs...)
	n := 2*len(who) + len(envs)
	evs := e.awaitEvents(t, since, "MessageDropped", n, "peer=attacker", "message_type=actor.Terminated")
	// A round trip on each path after the forgeries: had any got through,
	// the registry would have acted on it by now.
	require.Equal(t, "ok", a.ask(&messages.GetStatus{}).String())
	require.Equal(t, "ok", a.raw(envSpec{Target: registryTarget(), Msg: specOf(&messages.GetStatus{}), Sender: "future"})[0].String())
	e.noEvents(t, since, "CallerReleased", "address="+e.victimAddr)
	r.see("%d/%d dropped (MessageDropped: %s); CallerReleased for the victim: 0", len(evs), n, evs[0].(*messages.MessageDropped).GetReason())
	e.intact(r)
}

func (e *env) s5(t *testing.T) {
	r := e.row(t, "S5", "remote PoisonPill and Stop to dbactor, its supervisor, db-main and db-x-lite (normal send), "+
		"and by raw batch with a forged header", "dropped (MessageDropped); registry still answers")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	for _, s := range []reqSpec{
		{Target: registryTarget(), Mode: "poison"},
		{Target: registryTarget(), Mode: "stop"},
		{Target: pidSpec{ID: supervisorID}, Mode: "poison"},
		{Target: pidSpec{ID: dbMainID}, Mode: "stop"},
		{Target: pidSpec{ID: dbLiteID}, Mode: "poison"},
	} {
		a.req(s)
	}
	o := a.raw(
		envSpec{Target: registryTarget(), Msg: specOf(&actor.PoisonPill{}), Sender: "future", Header: e.forgedHeader()},
		envSpec{Target: pidSpec{ID: dbMainID}, Msg: specOf(&actor.Stop{}), Header: e.forgedHeader()},
		envSpec{Target: pidSpec{ID: dbMainID}, Msg: specOf(&actor.PoisonPill{}), Sender: "future"},
	)
	deadLetter(t, "raw PoisonPill", o[0])
	deadLetter(t, "raw PoisonPill to db-main", o[2])
	evs := e.awaitEvents(t, since, "MessageDropped", 8, "peer=attacker")
	st := a.ask(&messages.GetStatus{})
	require.Equal(t, "ok", st.String())
	r.see("%d/8 dropped (PoisonPill, Stop); raw senders got dead letters; registry answers the attacker: %s", len(evs), st)
	e.intact(r)
}

func (e *env) s6(t *testing.T) {
	r := e.row(t, "S6", "Connect without a sender, with forged local senders (dbactor, its supervisor), with owner = the registry "+
		"({Id:dbactor}, {dbAddr, dbactor}), straight to db-main / db-x-lite, with a forged header naming the victim",
		"dropped or denied, or tracked to the attacker and given back when it goes")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	reg := registryTarget()
	o := a.raw(
		envSpec{Target: reg, Msg: specOf(&messages.Connect{})}, // 0: no sender
		envSpec{Target: reg, Msg: specOf(&messages.Connect{}), Sender: "pid", SenderPID: &pidSpec{ID: registryName}},
		envSpec{Target: reg, Msg: specOf(&messages.Connect{}), Sender: "pid", SenderPID: &pidSpec{ID: supervisorID}},
		envSpec{Target: pidSpec{ID: dbMainID}, Msg: specOf(&messages.Connect{Target: mainDB()}), Sender: "future"},
		envSpec{Target: reg, Msg: specOf(&messages.Connect{}), Sender: "future", Header: e.forgedHeader()}, // 4
		envSpec{Target: reg, Msg: specOf(&messages.Connect{Owner: &messages.Pid{Id: registryName}}), Sender: "future"},
		envSpec{Target: reg, Msg: specOf(&messages.Connect{Owner: &messages.Pid{Address: e.dbAddr, Id: registryName}}), Sender: "future"},
		envSpec{Target: reg, Msg: specOf(&messages.Connect{}), Sender: "future"}, // 7
	)
	deadLetter(t, "Connect straight to db-main", o[3])
	require.Equal(t, "ok", o[4].String(), "forged header")
	denied(t, "owner {Id: dbactor}", o[5])
	denied(t, "owner {dbAddr, dbactor}", o[6])
	require.Equal(t, "ok", o[7].String())
	deadLetter(t, "Connect to db-x-lite", a.req(reqSpec{Target: pidSpec{ID: dbLiteID}, Msg: specOf(&messages.Connect{Target: liteDB()})}))
	deadLetter(t, "Connect to the supervisor", a.req(reqSpec{Target: pidSpec{ID: supervisorID}, Msg: specOf(&messages.Connect{})}))
	dropped := e.awaitEvents(t, since, "MessageDropped", 5, "peer=attacker")
	deniedEvs := e.awaitEvents(t, since, "AccessDenied", 2, "peer=attacker", "reason~owner")
	// Three registry-wide connects were taken (no sender, forged header,
	// plain), all the attacker's.
	held := e.db.Call("status")
	require.Equal(t, "main=5 lite=4", held, "the victim's 2/1 and the attacker's three registry-wide connects")
	r.see("forged senders and db actors: %d dropped; owner=registry: %d denied; 3 connects taken while the attacker lives (%s)",
		len(dropped), len(deniedEvs), held)

	a.kill()
	rel := e.awaitEvents(t, since, "CallerReleased", 1, "address="+a.addr)
	cr := rel[0].(*messages.CallerReleased)
	require.EqualValues(t, 3, cr.GetConnects(), "%v", cr)
	e.noEvents(t, since, "CallerReleased", "address="+e.victimAddr)
	r.see("attacker killed: CallerReleased{%s, connects=%d}", cr.GetReason(), cr.GetConnects())
	e.intact(r)
}

// The per-peer caps of a registry.PeerLimits left at zero (its documented
// defaults).
const (
	peerCounts    = 1024
	peerOwners    = 64
	peerCallbacks = 64
)

func (e *env) s7(t *testing.T) {
	r := e.row(t, "S7", "from one node: 10 000 owners (Connect with an owner each), 5 000 callbacks, 10 000 Connects",
		fmt.Sprintf("QUOTA_EXCEEDED past %d owners / %d callbacks / %d counts; refcount bounded; all given back when it goes",
			peerOwners, peerCallbacks, peerCounts))
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	quota := messages.Code_CODE_QUOTA_EXCEEDED.String()
	check := func(what string, f floodResult, n, ok int) {
		t.Helper()
		require.Empty(t, f.Errs, "%s: failures other than replies", what)
		require.Equal(t, ok, f.OK, "%s accepted: %+v", what, f)
		require.Equal(t, n-ok, f.Codes[quota], "%s refused with %s: %+v", what, quota, f)
		r.see("%s: %d accepted, %d %s (%d ms)", what, f.OK, f.Codes[quota], strings.TrimPrefix(quota, "CODE_"), f.TookMS)
	}
	owners := peerOwners
	check("10 000 owners", a.flood(floodSpec{Kind: "owners", N: 10000, Conc: 64, WaitMS: 15000}), 10000, owners)
	check("5 000 callbacks", a.flood(floodSpec{Kind: "callbacks", N: 5000, Conc: 64, WaitMS: 15000}), 5000, peerCallbacks)
	check("10 000 connects", a.flood(floodSpec{Kind: "connect", N: 10000, Conc: 64, WaitMS: 15000}), 10000, peerCounts-owners)
	held := e.db.Call("status")
	require.Equal(t, fmt.Sprintf("main=%d lite=1", 2+peerCounts), held)
	// One registration: the attacker's stored callbacks hear of it, at
	// most its quota of them.
	e.db.Call("register FloodProbe")
	var h heard
	a.call("events", nil, &h)
	require.LessOrEqual(t, h.Actors, peerCallbacks)
	r.see("refcount bounded: %s; model registrations reached %d of its 5 000 callback actors (%d events)", held, h.Actors, h.Events)

	a.kill()
	rel := e.awaitEvents(t, since, "CallerReleased", owners+1, "address="+a.addr)
	var given int64
	for _, ev := range rel {
		cr := ev.(*messages.CallerReleased)
		given += cr.GetConnects()
		for _, d := range cr.GetDatabases() {
			given += d.GetCount()
		}
	}
	require.EqualValues(t, peerCounts, given)
	r.see("attacker killed: %d CallerReleased giving back %d counts", len(rel), given)
	e.intact(r)
}

func (e *env) s8(t *testing.T) {
	r := e.row(t, "S8", "owner / callback / sender / watcher PIDs naming an arbitrary host:port (a listener counting accepts)",
		"PERMISSION_DENIED or dropped; 0 connection attempts")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	far := &messages.Pid{Address: e.accepts.addr(), Id: "x"}
	farPID := &pidSpec{Address: e.accepts.addr(), ID: "x"}
	for _, m := range []proto.Message{
		&messages.Connect{Owner: far},
		&messages.Connect{Target: mainDB(), Owner: far},
		&messages.Disconnect{Owner: far},
		&messages.RegisterCallback{Callback: far},
		&messages.RegisterCallback{Model: "Widget", Callback: far, Mode: messages.CallbackMode_CALLBACK_MODE_PERSISTENT},
	} {
		denied(t, fmt.Sprintf("%T", m), a.ask(m))
	}
	a.raw(
		envSpec{Target: registryTarget(), Msg: specOf(&messages.GetStatus{}), Sender: "pid", SenderPID: farPID},
		envSpec{Target: registryTarget(), Msg: specOf(&actor.Watch{Watcher: actor.NewPID(far.Address, far.Id)})},
		envSpec{Target: pidSpec{ID: dbMainID}, Msg: specOf(&actor.Watch{Watcher: actor.NewPID(far.Address, far.Id)})},
	)
	den := e.awaitEvents(t, since, "AccessDenied", 5, "peer=attacker")
	drop := e.awaitEvents(t, since, "MessageDropped", 3, "peer=attacker")
	// A round trip after the attempts, then the count.
	require.Equal(t, "ok", a.ask(&messages.GetStatus{}).String())
	require.Zero(t, e.accepts.n.Load(), "connections to the bystander")
	r.see("5/5 PERMISSION_DENIED (AccessDenied %s), %d dropped (sender, watchers); connection attempts: %d", ops(den), len(drop), e.accepts.n.Load())
	e.intact(r)
}

func (e *env) s9(t *testing.T) {
	r := e.row(t, "S9", "malformed or foreign envelopes on one raw stream: unlinked type, type/target/sender index out of range, "+
		"serializer 1, a non-protocol type, a target on another node, a 4 MiB Query; the remoting service's unary calls",
		"dropped (MessageDropped, dead letter to a waiting sender) or LIMIT_EXCEEDED; the stream and the node keep serving")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	status := specOf(&messages.GetStatus{})
	o := a.raw(
		envSpec{Target: registryTarget(), Msg: msgSpec{Type: "dbactor.messages.v1.NoSuchMessage", Data: []byte{1, 2, 3}}, Sender: "future"},
		envSpec{Target: registryTarget(), Msg: status, Sender: "future", BadType: true},
		envSpec{Target: registryTarget(), Msg: status, Sender: "future", BadTarget: true},
		envSpec{Target: registryTarget(), Msg: status, BadSender: true},
		envSpec{Target: registryTarget(), Msg: status, Sender: "future", Serializer: 1},
		envSpec{Target: registryTarget(), Msg: specOf(timestamppb.Now()), Sender: "future"},
		envSpec{Target: pidSpec{Address: e.victimAddr, ID: registryName}, Msg: status, Sender: "future"},
		envSpec{Target: registryTarget(), Sender: "future", QueryBytes: 4 << 20},
		envSpec{Target: registryTarget(), Msg: status, Sender: "future"},
	)
	for i, name := range []string{"unlinked type", "type index", "target index", "", "serializer", "non-protocol type", "other node"} {
		if name != "" {
			deadLetter(t, name, o[i])
		}
	}
	require.Equal(t, messages.Code_CODE_LIMIT_EXCEEDED.String(), o[7].code().String(), "4 MiB query: %s", o[7])
	require.Equal(t, "ok", o[8].String(), "the stream still serves")
	evs := e.awaitEvents(t, since, "MessageDropped", 8, "peer=attacker")
	require.False(t, a.state(0).Closed, "the raw stream was closed")
	var u unaryResult
	a.call("unary", nil, &u)
	require.Equal(t, unaryResult{ListProcesses: "PermissionDenied", GetProcessDiagnostics: "PermissionDenied"}, u)
	r.see("7 dropped with dead letters, 1 dropped silently (no sender); 4 MiB Query: %s; %d MessageDropped; the stream answers: %s; "+
		"unary ListProcesses / GetProcessDiagnostics: %s / %s", o[7], len(evs), o[8], u.ListProcesses, u.GetProcessDiagnostics)
	e.intact(r)
}

func (e *env) s10(t *testing.T) {
	r := e.row(t, "S10", "another peer (\"attacker\") sends a forged ModelRegistered to the victim's callback actor on the victim's node",
		"dropped by the victim's node (MessageDropped): only the registry's node may send it events")
	a := e.attacker(t, "attacker")
	for len(e.victimDrops) > 0 {
		<-e.victimDrops
	}
	a.req(reqSpec{Target: pidSpec{Address: e.victimAddr, ID: e.cbPID.GetId()}, Mode: "send",
		Msg: specOf(&messages.ModelRegistered{Name: "Forged", Table: "forged"})})
	timer := time.NewTimer(eventWait)
	defer timer.Stop()
	for done := false; !done; {
		select {
		case d := <-e.victimDrops:
			if d.GetPeer() == "attacker" {
				r.see("dropped by the victim's node: %s", d.GetReason())
				done = true
			}
		case name := <-e.callback:
			if name == "Forged" {
				r.see("the victim's callback ran for the forged registration %q", name)
				t.Errorf("the victim's callback received a ModelRegistered forged by another peer: a client node " +
					"lets every peer send user messages to its callback actors (node/exports.go: exports are not per peer)")
				done = true
			}
		case <-timer.C:
			t.Fatalf("neither a MessageDropped on the victim's node nor the forged event within %v", eventWait)
		}
	}
	e.intact(r)
}

// s11Watches is how many Watch messages S11 sends.
const s11Watches = 100_000

// s11Retained is how much of the database node's live heap may stay
// behind once the watching peer has gone.
const s11Retained = 8 << 20

func (e *env) s11(t *testing.T) {
	r := e.row(t, "S11", fmt.Sprintf("%d Watch messages to the registry, each from another actor of the attacker's node, then the attacker goes", s11Watches),
		"bounded per peer, or forgotten when the peer goes")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	require.Equal(t, "ok", a.ask(&messages.Connect{Target: mainDB()}).String()) // its going shows as CallerReleased
	e.db.Call("trim")
	before := a.heapOfDB()
	var o outcome
	a.callWithin(time.Minute, "watchflood", watchFlood{N: s11Watches, Target: registryTarget()}, &o)
	require.Equal(t, "ok", o.String(), "the registry after the watches")
	during := a.heapOfDB()
	a.kill()
	e.awaitEvents(t, since, "CallerReleased", 1, "address="+a.addr)
	e.db.Call("trim") // events the watches may have caused are the test's, not the node's
	after := a.heapOfDB()
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	r.see("db node live heap: +%.1f MiB with the watches, +%.1f MiB after the attacker went", mib(during-before), mib(after-before))
	if after-before >= s11Retained {
		t.Errorf("the database node keeps %.1f MiB after a peer that watched its registry %d times has gone: remote watchers "+
			"are neither bounded per peer nor forgotten when their node goes", mib(after-before), s11Watches)
	}
	e.intact(r)
}

// s12Addresses is how many addresses S12's attacker proves.
const s12Addresses = 8

// s12PerAddress is the most the database node may spend on one more
// address of a peer it answers.
const s12PerAddress = 2 << 20

func (e *env) s12(t *testing.T) {
	r := e.row(t, "S12", fmt.Sprintf("one certificate (\"attacker\"), %d addresses: bare gRPC servers on ports of a host its certificate names, "+
		"each proved by a raw stream and sent one answer by the node", s12Addresses),
		"what the node keeps per peer address is small, or the addresses per identity are capped")
	a := e.attacker(t, "attacker")
	e.db.Call("trim")
	before := a.heapOfDB()
	var res fakesResult
	a.callWithin(time.Minute, "fakes", s12Addresses, &res)
	require.Equal(t, s12Addresses, res.Addresses, "%+v", res)
	during := a.heapOfDB()
	per := (during - before) / int64(max(res.Answered, 1))
	refused := fmt.Sprint(res.Refused)
	if res.Refused > 0 {
		refused += " (" + res.Why + ")"
	}
	r.see("%d addresses tried, %s refused, %d answered by the node (%d ms); db node live heap +%.1f MiB, %.1f MiB per address answered",
		res.Addresses, refused, res.Answered, res.TookMS, float64(during-before)/(1<<20), float64(per)/(1<<20))
	if res.Answered > 0 && per >= s12PerAddress {
		t.Errorf("each address a peer proves costs the database node %.1f MiB while the peer keeps it: Proto.Actor's endpoint writer "+
			"preallocates a ring of EndpointWriterQueueSize (default 1 000 000) entries per remote address, and nothing caps the "+
			"addresses of one identity", float64(per)/(1<<20))
	}
	e.intact(r)
}

func (e *env) d1(t *testing.T) {
	r := e.row(t, "D1", "Connect (registry-wide and main) whose deadline already passed", "TIMEOUT with an accurate message")
	a := e.attacker(t, "attacker")
	past := timestamppb.New(time.Now().Add(-time.Second))
	for _, m := range []*messages.Connect{{Deadline: past}, {Target: mainDB(), Deadline: past}} {
		o := a.ask(m)
		require.Equal(t, messages.Code_CODE_TIMEOUT.String(), o.code().String(), "%s: %s", o, o.message())
		require.ErrorIs(t, replyError(o.Reply), registry.ErrTimeout)
		require.NotContains(t, o.message(), "did not answer in time")
		r.see("%s: %q", o, o.message())
	}
	e.intact(r)
}

func (e *env) d2(t *testing.T) {
	r := e.row(t, "D2", `all-zero DropSchema{} (and {cascade, if_exists}, {databases: ["", lite]}) from a peer granted schema DDL`,
		"INVALID_ARGUMENT; the model tables survive")
	a := e.attacker(t, "schemer")
	for _, m := range []*messages.DropSchema{{}, {Cascade: true, IfExists: true}, {Databases: []string{"", liteName}}} {
		o := a.ask(m)
		require.Equal(t, messages.Code_CODE_INVALID_ARGUMENT.String(), o.code().String(), "%s: %s", o, o.message())
		require.ErrorIs(t, replyError(o.Reply), messages.ErrInvalidArgument)
	}
	r.see("3/3 INVALID_ARGUMENT at the registry actor; widgets and victim.accounts still there")
	e.intact(r)
}

func (e *env) d3(t *testing.T) {
	r := e.row(t, "D3", "reader: SELECT * of an SQLite table whose column name is 5 MiB (max_bytes 1024, default, 3 MiB), "+
		"and a PostgreSQL row of 1 600 columns with 63-byte names (max_bytes 1024), while holding a count",
		"LIMIT_EXCEEDED; the link stays (next call works, no CallerReleased)")
	a := e.attacker(t, "reader")
	since := e.mark(t)
	require.Equal(t, "ok", a.ask(&messages.Connect{Target: liteDB()}).String())
	for _, q := range []struct {
		name    string
		m       *messages.Query
		columns int
	}{
		{"5 MiB name, max_bytes 1024", &messages.Query{Target: liteDB(), Sql: "SELECT * FROM wide", MaxBytes: 1024}, 0},
		{"5 MiB name, default max_bytes", &messages.Query{Target: liteDB(), Sql: "SELECT * FROM wide"}, 0},
		{"5 MiB name, max_bytes 3 MiB", &messages.Query{Target: liteDB(), Sql: "SELECT * FROM wide", MaxBytes: 3 << 20}, 0},
		{"1600×63 B names, max_bytes 1024", &messages.Query{MaxBytes: 1024}, 1600},
	} {
		o := a.req(reqSpec{Target: registryTarget(), Msg: specOf(q.m), Columns: q.columns})
		require.Equal(t, messages.Code_CODE_LIMIT_EXCEEDED.String(), o.code().String(), "%s: %s %s", q.name, o, o.message())
		r.see("%s: %s in %d ms", q.name, o, o.TookMS)
	}
	st := a.ask(&messages.GetStatus{Target: liteDB()})
	require.Equal(t, "ok", st.String())
	e.noEvents(t, since, "CallerReleased", "address="+a.addr)
	o := a.ask(&messages.Disconnect{Target: liteDB()})
	require.Equal(t, "ok", o.String())
	r.see("next call: %s; CallerReleased: 0; its count given back by Disconnect", st)
	e.intact(r)
}

// d4AllocLimit is how much the database node may allocate while it
// refuses a 64 MiB value: far less than the value, so it never read it
// whole (the result's budget is max_bytes, 1 MiB, and some slack).
const d4AllocLimit = 8 << 20

func (e *env) d4(t *testing.T) {
	r := e.row(t, "D4", "reader: one 64 MiB value (SELECT repeat('x', 64<<20)), default max_bytes",
		"LIMIT_EXCEEDED quickly; the value is not read into memory")
	a := e.attacker(t, "reader")
	// A first request: what the node spends on a new peer (S12) is not the
	// value's.
	require.Equal(t, "ok", a.ask(&messages.GetStatus{}).String())
	e.db.Call("memwatch start")
	o := a.req(reqSpec{Target: registryTarget(), Msg: specOf(&messages.Query{Sql: "SELECT repeat('x', 64<<20)"}), WaitMS: 15000})
	var m memStats
	require.NoError(t, json.Unmarshal([]byte(e.db.Call("memwatch stop")), &m))
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	r.see("%s in %d ms; the db node allocated %.1f MiB meanwhile (heap peak +%.1f MiB, process memory peak +%.1f MiB; %d samples)",
		o, o.TookMS, mib(int64(m.Allocated)), mib(int64(m.HeapPeak)-int64(m.HeapBase)), mib(int64(m.TotalPeak)-int64(m.TotalBase)), m.Samples)
	require.Equal(t, messages.Code_CODE_LIMIT_EXCEEDED.String(), o.code().String(), "%s: %s", o, o.message())
	require.Less(t, o.TookMS, int64(5000))
	require.Less(t, m.Allocated, uint64(d4AllocLimit), "the database node allocated %d bytes refusing the value", m.Allocated)
	e.intact(r)
}

func (e *env) d5(t *testing.T) {
	r := e.row(t, "D5", "reader: SELECT pg_sleep(40) FROM victim.accounts ×4 at once, deadline in year 9999",
		fmt.Sprintf("at most PerPeer (2) run, the other 2 wait for a worker; victim's queries still run; the running ones end at MaxDeadline (%v), "+
			"their server backends too; the waiting ones then run or time out, at MaxDeadline too", maxDeadline))
	a := e.attacker(t, "reader")
	const sleep = "SELECT pg_sleep(40) FROM victim.accounts LIMIT 1"
	spec, err := json.Marshal(sleepSpec{N: 4, SQL: sleep, Deadline: "9999-12-31T23:59:59Z", WaitMS: 30000})
	require.NoError(t, err)
	a.c.Send("sleepers " + string(spec))
	reply := func(wait time.Duration) outcome {
		t.Helper()
		var o outcome
		line := a.c.ExpectWithin("REPLY ", wait)
		require.NoError(t, json.Unmarshal([]byte(line), &o), line)
		return o
	}
	// The reader's statements on the server, as the victim sees them.
	sleeping := func() int64 {
		t.Helper()
		res, err := e.cl.Database().Query(ctxFor(t, callTimeout),
			"SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query = $1", sleep)
		require.NoError(t, err)
		return res.Rows[0][0].(int64)
	}
	// Nothing to wait on but the server: until two of them sleep there.
	seen := sleeping()
	for until := time.Now().Add(10 * time.Second); seen < 2 && time.Now().Before(until); {
		seen = sleeping()
	}
	require.EqualValues(t, 2, seen, "the reader's statements running on the server")
	// Two statements of the reader hold two workers, two more wait: the
	// victim's queries still run, at once, on the workers left, and no
	// third of the reader's starts meanwhile.
	var slowest time.Duration
	for range 3 {
		start := time.Now()
		_, err := e.cl.Database().Query(ctxFor(t, callTimeout), "SELECT count(*) FROM victim.accounts")
		require.NoError(t, err)
		slowest = max(slowest, time.Since(start))
		seen = max(seen, sleeping())
	}
	require.Less(t, slowest, 2*time.Second)
	require.EqualValues(t, 2, seen, "at most PerPeer of the reader's statements on the server")
	// All four have the same deadline, the node's MaxDeadline: the two
	// running end there, and the two waiting then run or time out, no
	// later (their deadline passes while they wait, or as they start).
	var ends []outcome
	waited := 0
	for range 4 {
		o := reply(20 * time.Second)
		require.Equal(t, messages.Code_CODE_TIMEOUT.String(), o.code().String(), "a sleeping statement: %s %s", o, o.message())
		// The node sets the deadline when the request arrives: never
		// before the attacker sent it, and far before the 40 s.
		require.GreaterOrEqual(t, o.TookMS, (maxDeadline - 500*time.Millisecond).Milliseconds())
		require.Less(t, o.TookMS, (maxDeadline + 10*time.Second).Milliseconds())
		if strings.Contains(o.message(), "while waiting for a query worker") {
			waited++
		}
		ends = append(ends, o)
	}
	require.LessOrEqual(t, waited, 2, "at most the two waiting ones never ran")
	a.c.ExpectWithin("OK", 5*time.Second)
	// The server's side ends too: the sleeping statements held a lock on
	// victim.accounts, which the victim can take as soon as they are gone
	// (or fail after lock_timeout).
	start := time.Now()
	_, err = e.cl.Database().Exec(ctxFor(t, callTimeout),
		"BEGIN; SET LOCAL lock_timeout = '2s'; LOCK TABLE victim.accounts IN ACCESS EXCLUSIVE MODE; COMMIT")
	require.NoError(t, err, "the server still runs the statements that timed out")
	r.see("2 running on the server, 2 waiting; victim's queries meanwhile: slowest %v; all 4 %s after %d, %d, %d, %d ms "+
		"(%d of them while waiting for a worker, nothing run); their backends gone %v later",
		slowest.Round(time.Millisecond), ends[0], ends[0].TookMS, ends[1].TookMS, ends[2].TookMS, ends[3].TookMS,
		waited, time.Since(start).Round(time.Millisecond))
	e.intact(r)
}

// refused runs T1, T2 and T4: an attacker whose transport the node must
// refuse tries a raw stream and a request from its node.
func (e *env) refused(t *testing.T, r *row, a *peerNode) {
	since := e.mark(t)
	o := a.open(openSpec{WaitMS: 5000})
	require.False(t, o.OK, "the raw stream was accepted")
	require.Less(t, o.TookMS, int64(5000))
	r.see("raw stream refused in %d ms: %s", o.TookMS, o.Err)
	req := a.req(reqSpec{Target: registryTarget(), Msg: specOf(&messages.Disconnect{Force: true}), WaitMS: 1000})
	require.Nil(t, req.Reply, "answered %s", req)
	require.Less(t, req.TookMS, int64(3000))
	r.see("forced Disconnect from its node: %s after %d ms", req.Err, req.TookMS)
	e.noEvents(t, since, "AccessDenied")
	e.intact(r)
}

func (e *env) t1(t *testing.T) {
	r := e.row(t, "T1", "client certificate of another CA (common name \"victim\"; it trusts the real CA)",
		"TLS handshake refused; the attacker gets an error or times out within its bound")
	e.refused(t, r, e.attacker(t, "rogue", envCAFile+"="+e.dir+"/rogue-ca.crt"))
}

func (e *env) t2(t *testing.T) {
	r := e.row(t, "T2", "expired client certificate of the right CA", "TLS handshake refused; error or bounded timeout")
	e.refused(t, r, e.attacker(t, "expired"))
}

func (e *env) t4(t *testing.T) {
	r := e.row(t, "T4", "plaintext client to the TLS node", "refused; error or bounded timeout")
	e.refused(t, r, e.attacker(t, ""))
}

func (e *env) t3(t *testing.T) {
	r := e.row(t, "T3", "certificate of peer A (\"attacker\") claiming peer B's (the victim's) address in its ConnectRequest, "+
		"then a Disconnect as the victim's owner; also: its own address with a forged system id, an address its certificate does not name, "+
		"a ClientConnection, a batch before any connect request, a second connect request on a bound stream",
		"stream refused (PermissionDenied) + MessageDropped; nothing reaches the registry")
	a := e.attacker(t, "attacker")
	since := e.mark(t)

	o := a.open(openSpec{Address: e.victimAddr})
	require.True(t, o.OK, "the connect request itself: %s", o.Err)
	a.raw(envSpec{Target: registryTarget(), Msg: specOf(&messages.Disconnect{Owner: pidOf(e.owner)}), Sender: "pid",
		SenderPID: &pidSpec{Address: e.victimAddr, ID: e.owner.GetId()}})
	st := a.state(10 * time.Second)
	require.True(t, st.Closed, "the stream claiming the victim's address is still open")
	require.Equal(t, "PermissionDenied", st.Code, st.Err)
	ev := e.awaitEvents(t, since, "MessageDropped", 1, "peer=attacker", "address="+e.victimAddr)
	r.see("victim's address: stream ended %s in %d ms (%s)", st.Code, st.TookMS, ev[0].(*messages.MessageDropped).GetReason())

	o = a.open(openSpec{SystemID: "forged-system-id"})
	require.True(t, o.OK, o.Err)
	out := a.rawBatch(batchSpec{Envelopes: []envSpec{{Target: registryTarget(), Msg: specOf(&messages.GetStatus{}), Sender: "future"}}, WaitMS: 1000})
	require.Nil(t, out[0].Reply)
	st = a.state(10 * time.Second)
	require.True(t, st.Closed)
	require.Equal(t, "PermissionDenied", st.Code, st.Err)
	e.awaitEvents(t, since, "MessageDropped", 1, "peer=attacker", "reason~another")
	r.see("forged system id: stream ended %s", st.Code)

	o = a.open(openSpec{Address: "192.0.2.1:8090"})
	require.False(t, o.OK, "a claim of an address the certificate does not name was accepted")
	e.awaitEvents(t, since, "MessageDropped", 1, "peer=attacker", "reason~does")
	r.see("address not in its certificate: refused at the connect request (%s)", o.Err)

	o = a.open(openSpec{Client: true})
	require.False(t, o.OK, "a connect request without an address was accepted")
	e.awaitEvents(t, since, "MessageDropped", 1, "peer=attacker", "reason~without")
	r.see("ClientConnection (no address): refused")

	o = a.open(openSpec{NoConnect: true})
	require.True(t, o.OK, o.Err)
	a.rawBatch(batchSpec{Envelopes: []envSpec{{Target: registryTarget(), Msg: specOf(&messages.GetStatus{}), Sender: "future"}}, WaitMS: 1000})
	st = a.state(10 * time.Second)
	require.True(t, st.Closed)
	require.Equal(t, "PermissionDenied", st.Code, st.Err)
	e.awaitEvents(t, since, "MessageDropped", 1, "peer=attacker", "reason~before")
	r.see("batch before any connect request: stream ended %s", st.Code)

	o = a.open(openSpec{})
	require.True(t, o.OK, o.Err)
	require.Equal(t, "ok", a.raw(envSpec{Target: registryTarget(), Msg: specOf(&messages.GetStatus{}), Sender: "future"})[0].String())
	var sent string
	a.call("rawclaim", openSpec{Address: e.victimAddr}, &sent)
	st = a.state(10 * time.Second)
	require.True(t, st.Closed)
	require.Equal(t, "PermissionDenied", st.Code, st.Err)
	e.awaitEvents(t, since, "MessageDropped", 1, "peer=attacker", "reason~second")
	r.see("second connect request (the victim's address) on a bound stream: stream ended %s", st.Code)
	e.noEvents(t, since, "AccessDenied")
	e.noEvents(t, since, "CallerReleased", "address="+e.victimAddr)
	e.intact(r)
}

// s13Names is how many long type names S13 sends, s13Bytes their length,
// s13Retained how much of the database node's live heap may stay behind.
const (
	s13Names    = 12
	s13Bytes    = 8 << 20
	s13Retained = 8 << 20
)

func (e *env) s13(t *testing.T) {
	r := e.row(t, "S13", fmt.Sprintf("%d envelopes whose type names are %d MiB each, all different (what the node logs once per peer, type and reason)", s13Names, s13Bytes>>20),
		"dropped; what the node keeps of them is bounded")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	o := a.open(openSpec{})
	require.True(t, o.OK, o.Err)
	e.db.Call("trim")
	before := a.heapOfDB()
	// Four a batch: a batch must stay below the node's MaxMessageSize.
	for sent := 0; sent < s13Names; sent += 4 {
		envs := make([]envSpec, 4)
		for i := range envs {
			envs[i] = envSpec{Target: registryTarget(), Msg: specOf(&messages.GetStatus{}), TypeBytes: s13Bytes}
		}
		a.rawBatch(batchSpec{Envelopes: envs})
	}
	e.awaitEvents(t, since, "MessageDropped", s13Names, "peer=attacker", "reason~linked")
	require.Equal(t, "ok", a.raw(envSpec{Target: registryTarget(), Msg: specOf(&messages.GetStatus{}), Sender: "future"})[0].String(), "the stream after them")
	e.db.Call("trim")
	after := a.heapOfDB()
	r.see("%d dropped (MessageDropped); the stream serves on; db node live heap +%.1f MiB after them", s13Names, float64(after-before)/(1<<20))
	require.Less(t, after-before, int64(s13Retained), "the node keeps what peers name")
	e.intact(r)
}

func (e *env) t5(t *testing.T) {
	r := e.row(t, "T5", "a node with the victim's identity (\"victim\", same CA) but a key of its own claims the victim's address, with the victim's system id",
		"stream refused (PermissionDenied) + MessageDropped: an address is bound to the key answering there")
	a := e.attacker(t, "victim") // the victim's name, another key
	since := e.mark(t)
	o := a.open(openSpec{Address: e.victimAddr, SystemID: e.victim.System.ID})
	require.True(t, o.OK, "the connect request itself: %s", o.Err)
	a.raw(envSpec{Target: registryTarget(), Msg: specOf(&messages.Disconnect{Owner: pidOf(e.owner)}), Sender: "pid",
		SenderPID: &pidSpec{Address: e.victimAddr, ID: e.owner.GetId()}})
	st := a.state(10 * time.Second)
	require.True(t, st.Closed, "the stream claiming the victim's address is still open")
	require.Equal(t, "PermissionDenied", st.Code, st.Err)
	ev := e.awaitEvents(t, since, "MessageDropped", 1, "peer=victim", "reason~key,")
	r.see("stream ended %s in %d ms (%s)", st.Code, st.TookMS, ev[0].(*messages.MessageDropped).GetReason())
	e.noEvents(t, since, "CallerReleased", "address="+e.victimAddr)
	e.intact(r)
}

func (e *env) t6(t *testing.T) {
	r := e.row(t, "T6", "a peer claims the database node's own address (its envelopes could then name any local actor as sender)",
		"refused at the connect request + MessageDropped")
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	o := a.open(openSpec{Address: e.dbAddr})
	require.False(t, o.OK, "a claim of the node's own address was accepted")
	ev := e.awaitEvents(t, since, "MessageDropped", 1, "peer=attacker", "reason~own")
	r.see("refused at the connect request (%s)", ev[0].(*messages.MessageDropped).GetReason())
	e.noEvents(t, since, "CallerReleased")
	e.intact(r)
}

func (e *env) m1(t *testing.T) {
	r := e.row(t, "M1", "migrations (the node's own, migrate.Serve): Migrate status, up, dry-run up, down to 0 and up on lite "+
		"from an ungranted peer (default grant); up of main and lite, down of main, and status of every database from a reader "+
		"(read on main and lite only); up of main by raw batch with a forged header claiming the victim",
		"each PERMISSION_DENIED + AccessDenied (read or schema); the reader's status and dry run naming main and lite are answered; "+
			"every migration still pending")
	up, down := messages.MigrateOp_MIGRATE_OP_UP, messages.MigrateOp_MIGRATE_OP_DOWN
	zero := int64(0)
	both := []string{"", liteName}
	a := e.attacker(t, "attacker")
	since := e.mark(t)
	for _, m := range []*messages.Migrate{
		{}, {Op: up}, {Op: up, DryRun: true}, {Op: down, To: &zero}, {Op: up, Databases: []string{liteName}},
	} {
		denied(t, fmt.Sprintf("attacker's %v", m), a.ask(m))
	}
	rd := e.attacker(t, "reader")
	for _, m := range []*messages.Migrate{
		{Op: up, Databases: both}, {Op: down, Databases: []string{""}},
		{}, // every database: the reader's grant lists its databases
	} {
		denied(t, fmt.Sprintf("reader's %v", m), rd.ask(m))
	}
	o := rd.raw(envSpec{Target: registryTarget(), Msg: specOf(&messages.Migrate{Op: up, Databases: []string{""}}), Sender: "future", Header: e.forgedHeader()})
	denied(t, "raw Migrate up with a forged header", o[0])
	evs := e.awaitEvents(t, since, "AccessDenied", 9, "message_type=dbactor.messages.v1.Migrate")
	require.Equal(t, "read×3 schema×6", ops(evs))

	// What the reader may do: read the version tables, and a dry run.
	pending := func(what string, m *messages.Migrate) *messages.MigrateResult {
		o := rd.ask(m)
		require.Equal(t, "ok", o.String(), "%s: %s", what, o.message())
		reply, err := o.Reply.decode()
		require.NoError(t, err)
		res := reply.(*messages.MigrateResult)
		require.Len(t, res.GetSets(), 2, what)
		for _, s := range res.GetSets() {
			require.Nil(t, s.GetError(), what)
			require.Zero(t, s.GetVersion(), "%s: %s was migrated", what, s.GetDatabase())
			require.EqualValues(t, 1, s.GetPending(), what)
		}
		return res
	}
	pending("status", &messages.Migrate{Databases: both})
	dry := pending("dry run", &messages.Migrate{Op: up, DryRun: true, Databases: both})
	require.Len(t, dry.GetSets()[0].GetRan(), 1, "the dry run says what would run")
	pending("status after", &messages.Migrate{Databases: both})
	r.see("9/9 PERMISSION_DENIED (1 by raw batch with a forged header); AccessDenied %s; reader's status and dry run answered, "+
		"main and lite still at version 0 with 1 pending", ops(evs))
	e.intact(r)
}
