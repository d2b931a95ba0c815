package node

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/messages"
)

func TestClassify(t *testing.T) {
	main, extra := &messages.Target{}, &messages.Target{Database: "analytics"}
	for _, c := range []struct {
		msg proto.Message
		op  Op
		dbs []string
	}{
		{&messages.Connect{}, OpLifecycle, nil},
		{&messages.Connect{Target: extra}, OpLifecycle, []string{"analytics"}},
		{&messages.Disconnect{Target: main}, OpLifecycle, []string{""}},
		{&messages.Disconnect{Force: true}, OpForce, nil},
		{&messages.Disconnect{Force: true, Target: extra}, OpForce, []string{"analytics"}},
		{&messages.GetStatus{}, OpLifecycle, []string{""}},
		{&messages.ListDatabases{}, OpLifecycle, nil},
		{&messages.GetSchemas{Target: extra}, OpLifecycle, []string{"analytics"}},
		{&messages.Query{}, OpRead, []string{""}},
		{&messages.Exec{Target: extra}, OpWrite, []string{"analytics"}},
		{&messages.CreateSchema{Schema: "t"}, OpSchema, []string{""}},
		{&messages.DropSchema{Schema: "t", Databases: []string{"", "analytics"}}, OpSchema, []string{"", "analytics"}},
		{&messages.CreateAll{}, OpSchema, []string{""}},
		{&messages.DropAll{Databases: []string{"analytics"}}, OpSchema, []string{"analytics"}},
		{&messages.RegisterModel{Model: &messages.ModelDef{Database: "analytics"}}, OpModels, []string{"analytics"}},
		{&messages.DeleteModel{Name: "x"}, OpModels, nil},
		{&messages.RegisterCallback{}, OpCallbacks, nil},
		{&messages.Migrate{}, OpRead, nil},
		{&messages.Migrate{Databases: []string{"analytics"}}, OpRead, []string{"analytics"}},
		{&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_UP}, OpSchema, nil},
		{&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_UP, Databases: []string{"", "analytics"}}, OpSchema, []string{"", "analytics"}},
		{&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_DOWN, Databases: []string{""}}, OpSchema, []string{""}},
		{&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_UP, DryRun: true}, OpRead, nil},
		{&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_DOWN, DryRun: true, Databases: []string{"analytics"}}, OpRead, []string{"analytics"}},
		// An op this binary does not know needs the most.
		{&messages.Migrate{Op: 7}, OpSchema, nil},
	} {
		req, ok := classify(c.msg)
		require.True(t, ok, "%T", c.msg)
		require.Equal(t, c.op, req.Op, "%T %v", c.msg, c.msg)
		require.Equal(t, c.dbs, req.Databases, "%T %v", c.msg, c.msg)
	}
	for _, reply := range []proto.Message{&messages.ConnectResult{}, &messages.Status{}, &messages.ModelRegistered{}, &messages.QueryResult{}, &messages.MigrateResult{}} {
		_, ok := classify(reply)
		require.False(t, ok, "%T is no request", reply)
	}
}

func TestPolicyDecide(t *testing.T) {
	alice := Peer{Identity: "alice", Address: "127.0.0.1:1"}
	bob := Peer{Identity: "bob", Address: "127.0.0.1:2"}
	p := Policy{Peers: map[string][]Grant{
		"alice": {{Ops: OpRead, Databases: []string{""}, Role: "reader"}, {Ops: OpWrite | OpSchema, Databases: []string{"analytics"}, Role: "writer"}},
		"bob":   {{Ops: OpAll}},
	}}
	req := func(op Op, dbs ...string) Request { return Request{Op: op, Databases: dbs} }
	for _, c := range []struct {
		name    string
		peer    Peer
		req     Request
		allowed bool
		write   bool
		role    string
	}{
		{"default lifecycle everywhere", alice, req(OpLifecycle), true, true, ""},
		{"default callbacks", alice, req(OpCallbacks), true, true, ""},
		{"no force by default", alice, req(OpForce), false, false, ""},
		{"read on main is read-only, with its role", alice, req(OpRead, ""), true, false, "reader"},
		{"no read on analytics without a read grant", alice, req(OpRead, "analytics"), false, false, ""},
		{"write on analytics", alice, req(OpWrite, "analytics"), true, true, "writer"},
		{"no write on main", alice, req(OpWrite, ""), false, false, ""},
		{"schema on one database", alice, req(OpSchema, "analytics"), true, true, "writer"},
		{"schema on two needs both", alice, req(OpSchema, "analytics", ""), false, false, ""},
		{"a listed grant never covers every database", alice, req(OpSchema), false, false, ""},
		{"all ops", bob, req(OpForce), true, true, ""},
		{"all ops read writes", bob, req(OpRead, ""), true, true, ""},
		{"unknown peer: default only", Peer{Identity: "eve"}, req(OpRead, ""), false, false, ""},
	} {
		d := p.decide(c.peer, c.req)
		require.Equal(t, c.allowed, d.allowed, "%s: %s", c.name, d.reason)
		if d.allowed {
			require.Equal(t, c.write, d.write, c.name)
			require.Equal(t, c.role, d.role, c.name)
		} else {
			require.NotEmpty(t, d.reason, c.name)
		}
	}

	// Migrations: a grant of schema DDL on one database covers an Up
	// naming it, not one naming another or every database; status needs
	// read, which the default grant lacks.
	m := Policy{Peers: map[string][]Grant{"ops": {{Ops: OpRead | OpLifecycle}, {Ops: OpSchema, Databases: []string{"analytics"}}}}}
	ops := Peer{Identity: "ops"}
	decide := func(p Policy, who Peer, msg *messages.Migrate) bool {
		r, ok := classify(msg)
		require.True(t, ok)
		return p.decide(who, r).allowed
	}
	up := messages.MigrateOp_MIGRATE_OP_UP
	require.True(t, decide(m, ops, &messages.Migrate{}), "status everywhere")
	require.True(t, decide(m, ops, &messages.Migrate{Op: up, DryRun: true}), "a dry run needs what status needs")
	require.False(t, decide(m, ops, &messages.Migrate{Op: up}), "up on every database")
	require.False(t, decide(m, ops, &messages.Migrate{Op: up, Databases: []string{""}}), "up on main")
	require.False(t, decide(m, ops, &messages.Migrate{Op: up, Databases: []string{"analytics", ""}}), "up on both")
	require.True(t, decide(m, ops, &messages.Migrate{Op: up, Databases: []string{"analytics"}}), "up on analytics")
	require.False(t, decide(m, Peer{Identity: "eve"}, &messages.Migrate{}), "status by default")

	// The peer's own grant decides the role, before a default one.
	rp := Policy{Default: []Grant{{Ops: OpDefault | OpRead}}, Peers: map[string][]Grant{"dave": {{Ops: OpRead, Role: "dave_r"}}}}
	require.Equal(t, "dave_r", rp.decide(Peer{Identity: "dave"}, req(OpRead, "")).role)
	require.Equal(t, "", rp.decide(Peer{Identity: "erin"}, req(OpRead, "")).role)

	// A read grant with a write grant on the same database runs as the
	// writer: the write grant decides.
	w := Policy{Peers: map[string][]Grant{"carol": {{Ops: OpRead, Role: "r"}, {Ops: OpWrite, Role: "w"}}}}
	d := w.decide(Peer{Identity: "carol"}, req(OpRead, ""))
	require.True(t, d.allowed)
	require.True(t, d.write)
	require.Equal(t, "w", d.role)

	// An empty Default grants nothing; Authorize narrows and may panic.
	none := Policy{Default: []Grant{}, Authorize: func(p Peer, r Request) error {
		if r.Op == OpCallbacks {
			panic("boom")
		}
		if p.Identity == "bob" {
			return errors.New("bob is suspended")
		}
		return nil
	}, Peers: map[string][]Grant{"bob": {{Ops: OpAll}}, "alice": {{Ops: OpAll}}}}
	require.False(t, none.decide(Peer{Identity: "eve"}, req(OpLifecycle)).allowed)
	d = none.decide(bob, req(OpLifecycle))
	require.False(t, d.allowed)
	require.Contains(t, d.reason, "bob is suspended")
	d = none.decide(alice, req(OpCallbacks))
	require.False(t, d.allowed, "a panicking Authorize refuses")
	require.Contains(t, d.reason, "panicked")
	require.True(t, none.decide(alice, req(OpLifecycle)).allowed)
}

func TestValidateOwnActors(t *testing.T) {
	p := Peer{Identity: "a", Address: "127.0.0.1:1"}
	own := &messages.Pid{Address: "127.0.0.1:1", Id: "x"}
	for _, bad := range []*messages.Pid{
		{Address: "127.0.0.1:2", Id: "x"},                            // another node's actor
		{Id: "dbactor"},                                              // no address: this node's own registry
		{Address: "10.0.0.1:22", Id: "x"},                            // a host to dial
		{Address: "127.0.0.1:1", Id: "activator"},                    // the node itself, no caller
		{Address: "127.0.0.1:1", Id: strings.Repeat("x", maxName+1)}, // kept by the registry: bounded
	} {
		require.Error(t, validate(p, &messages.Connect{Owner: bad}), "%v", bad)
		require.Error(t, validate(p, &messages.Disconnect{Owner: bad}), "%v", bad)
		require.Error(t, validate(p, &messages.RegisterCallback{Callback: bad}), "%v", bad)
	}
	require.NoError(t, validate(p, &messages.Connect{Owner: own}))
	require.NoError(t, validate(p, &messages.Connect{}))
	require.NoError(t, validate(p, &messages.RegisterCallback{Callback: own}))
}

func TestClampDeadline(t *testing.T) {
	limit := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	far := &messages.Query{Deadline: timestamppb.New(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))}
	require.True(t, clampDeadline(far, limit))
	require.True(t, far.GetDeadline().AsTime().Equal(limit))
	none := &messages.Connect{}
	require.True(t, clampDeadline(none, limit), "no deadline gets the node's")
	require.True(t, none.GetDeadline().AsTime().Equal(limit))
	near := &messages.Exec{Deadline: timestamppb.New(limit.Add(-time.Second))}
	require.False(t, clampDeadline(near, limit))
	bad := &messages.CreateSchema{Deadline: &timestamppb.Timestamp{Nanos: -1}}
	require.False(t, clampDeadline(bad, limit), "an invalid one is the registry's to refuse")
	require.False(t, clampDeadline(&messages.ListDatabases{}, limit))

	// Every request that carries a deadline gets one.
	for _, m := range []proto.Message{&messages.Disconnect{}, &messages.CreateSchema{}, &messages.DropSchema{},
		&messages.CreateAll{}, &messages.DropAll{}, &messages.GetSchemas{}, &messages.Query{}, &messages.Exec{}, &messages.Migrate{}} {
		require.True(t, clampDeadline(m, limit), "%T", m)
		d := m.(interface{ GetDeadline() *timestamppb.Timestamp }).GetDeadline()
		require.True(t, d.AsTime().Equal(limit), "%T", m)
	}
}

// Every type of the protocol is either a request the policy classifies or
// one known not to be: a new request type must be classified (and so
// authorized) before a peer can send it.
func TestEveryProtocolTypeIsClassified(t *testing.T) {
	notRequests := map[string]bool{}
	for _, m := range []proto.Message{
		&messages.Error{}, &messages.Target{}, &messages.ConnectResult{}, &messages.DisconnectResult{},
		&messages.Status{}, &messages.DatabaseList{}, &messages.SchemaResult{}, &messages.SchemaList{},
		&messages.ColumnDef{}, &messages.ModelDef{}, &messages.ModelResult{}, &messages.Pid{},
		&messages.CallbackResult{}, &messages.ModelRegistered{}, &messages.DatabaseDown{}, &messages.DatabaseUp{},
		&messages.DatabaseProbeFailed{}, &messages.ActorCrashed{}, &messages.DatabaseConnecting{},
		&messages.DatabaseConnected{}, &messages.DatabaseConnectFailed{}, &messages.DatabaseDisconnected{},
		&messages.RollingBack{}, &messages.RolledBack{}, &messages.DatabaseNotConnected{}, &messages.Value{},
		&messages.Column{}, &messages.Row{}, &messages.QueryResult{}, &messages.ExecResult{},
		&messages.DatabaseCount{}, &messages.CallerReleased{}, &messages.AccessDenied{}, &messages.MessageDropped{},
		&messages.MigrationInfo{}, &messages.MigrationSet{}, &messages.MigrateResult{},
	} {
		notRequests[string(proto.MessageName(m))] = true
	}
	msgs := messages.File_messages_proto.Messages()
	for i := range msgs.Len() {
		name := string(msgs.Get(i).FullName())
		require.True(t, requestTypes[name] != notRequests[name],
			"%s must be either a classified request or a known non-request", name)
	}
}
