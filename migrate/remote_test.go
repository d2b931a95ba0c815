package migrate_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testnode"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/node/dbnode"
	"github.com/dbactor/dbactor/registry"
)

// The environment of the "db" role.
const (
	envDSN      = "DBACTOR_MIGRATE_DSN"
	envExtraDSN = "DBACTOR_MIGRATE_EXTRA_DSN"
	// envGrant: "all" grants the plaintext loopback peers every operation;
	// otherwise they may read everywhere (status, dry runs) and run schema
	// DDL — migrations up and down — on "analytics" only.
	envGrant = "DBACTOR_MIGRATE_GRANT"
	// envTenants: tenant schemas to create before serving ("a,b").
	envTenants = "DBACTOR_MIGRATE_TENANTS"
)

// roleDB is a database node (dbnode.Start) for the registry of envDSN
// (main) and envExtraDSN ("analytics") that serves tree() (migrate.Serve)
// under envGrant's policy. It prints "ADDR <address>" and answers stdin
// commands: `has <table>` ("OK true" when the main database's default
// schema has the table). When stdin closes it closes the registry and
// exits 0, without stopping remote (the parent's node has stopped first).
func roleDB(out *testnode.Out) error {
	policy := node.Policy{Peers: map[string][]node.Grant{node.LoopbackIdentity: {
		{Ops: node.OpLifecycle | node.OpRead},
		{Ops: node.OpSchema, Databases: []string{"analytics"}},
	}}}
	if os.Getenv(envGrant) == "all" {
		policy = node.Policy{Peers: map[string][]node.Grant{node.LoopbackIdentity: {{Ops: node.OpAll}}}}
	}
	n, err := dbnode.Start(node.Config{Policy: policy}, registry.Config{
		Database: os.Getenv(envDSN), Extra: map[string]string{"analytics": os.Getenv(envExtraDSN)},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ts := os.Getenv(envTenants); ts != "" {
		for _, t := range strings.Split(ts, ",") {
			if err := n.Registry.CreateSchema(ctx, t); err != nil {
				return err
			}
		}
	}
	if err := migrate.Serve(ctx, n.Registry, tree()); err != nil {
		return err
	}
	out.Printf("ADDR %s", n.Address())
	testnode.Commands(os.Stdin, func(cmd string, args []string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		switch {
		case cmd == "has" && len(args) == 1:
			var has bool
			err := registry.Run(ctx, n.Registry, func(ctx context.Context) error {
				q := `SELECT count(*) > 0 FROM main.sqlite_master WHERE type = 'table' AND name = $1`
				if n.Registry.Database().Dialect() == client.Postgres {
					q = `SELECT to_regclass($1) IS NOT NULL`
				}
				return n.Registry.Database().DB().QueryRowContext(ctx, q, args[0]).Scan(&has)
			})
			if err != nil {
				out.Printf("ERR has: %v", err)
				return true
			}
			out.Printf("OK %t", has)
		default:
			out.Printf("ERR unknown command %q", cmd)
		}
		return true
	})
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.Registry.Close(ctx)
}

// TestRemote runs migrations on a database node in another process from a
// client node, on SQLite and on PostgreSQL, through the node's trust
// boundary: status shows the pending sets; up without the grant is
// refused with a typed error and changes nothing; a dry run (which needs
// only status's grant) applies nothing; with the grant, up applies and
// status then shows nothing pending.
func TestRemote(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			if !testnode.Isolate(t) {
				return
			}
			remote(t, d)
		})
	}
}

func remote(t *testing.T, d dialect) {
	main, extra := d.urls(t)
	env := []string{envDSN + "=" + main, envExtraDSN + "=" + extra}
	// Two database nodes on the same databases: one whose policy grants
	// schema DDL on "analytics" only, one that grants everything. Both
	// outlive the client node (see closeNode below).
	limited := testnode.Start(t, "db", append(env, envTenants+"="+strings.Join(tenants, ","))...)
	limitedAddr := limited.Expect("ADDR ")
	granted := testnode.Start(t, "db", append(env, envGrant+"=all")...)
	grantedAddr := granted.Expect("ADDR ")

	n, err := node.StartClient(node.Config{})
	require.NoError(t, err)
	closeNode := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, n.Close(ctx))
	}
	ctx := ctxFor(t)
	attach := func(addr string) *client.Client {
		cl, err := n.Attach(addr, "", client.WithCallTimeout(30*time.Second))
		require.NoError(t, err)
		return cl
	}
	cl, admin := attach(limitedAddr), attach(grantedAddr)

	// Status: every set pending.
	st, err := cl.MigrateStatus(ctx)
	require.NoError(t, err)
	require.Len(t, st.Sets, 5)
	require.Equal(t, 9, st.Pending())
	require.Equal(t, 2, set(t, st, "default/tenant_b").Pending)

	// Up without the grant: refused before the registry sees it.
	for _, opts := range [][]client.MigrateOption{
		nil, // every database: a grant that lists databases never covers that
		{client.MigrateDatabases("")},
		{client.MigrateDatabases("analytics", "")},
	} {
		rep, err := cl.MigrateUp(ctx, opts...)
		require.ErrorIs(t, err, client.ErrPermissionDenied)
		require.Nil(t, rep)
		var pe *messages.Error
		require.True(t, errors.As(err, &pe))
		require.Equal(t, messages.Code_CODE_PERMISSION_DENIED, pe.GetCode())
	}
	_, err = cl.MigrateDown(ctx, client.MigrateDatabases(""), client.MigrateTo(0))
	require.ErrorIs(t, err, client.ErrPermissionDenied)
	require.Equal(t, "false", limited.Call("has users"))

	// A dry run needs only what status needs, and applies nothing.
	dry, err := cl.MigrateUp(ctx, client.MigrateDryRun())
	require.NoError(t, err)
	require.True(t, dry.DryRun)
	require.Equal(t, []int64{1, 2}, clientVersions(set(t, dry, "default").Ran))
	st, err = cl.MigrateStatus(ctx)
	require.NoError(t, err)
	require.Equal(t, 9, st.Pending(), "the refused and dry requests changed nothing")
	require.Equal(t, "false", limited.Call("has users"))

	// Granted on analytics: Up there applies, and status there shows
	// nothing pending.
	rep, err := cl.MigrateUp(ctx, client.MigrateDatabases("analytics"))
	require.NoError(t, err)
	require.Equal(t, []int64{1}, clientVersions(set(t, rep, "analytics").Ran))
	st, err = cl.MigrateStatus(ctx, client.MigrateDatabases("analytics"))
	require.NoError(t, err)
	require.Len(t, st.Sets, 1)
	require.Zero(t, st.Pending())

	// Granted everything: Up applies the rest; a second status shows 0
	// pending, on either node.
	rep, err = admin.MigrateUp(ctx)
	require.NoError(t, err)
	require.Zero(t, rep.Pending())
	require.Empty(t, set(t, rep, "analytics").Ran, "applied once")
	require.Equal(t, []int64{1, 2}, clientVersions(set(t, rep, "default/tenant_c").Ran))
	for _, c := range []*client.Client{admin, cl} {
		st, err = c.MigrateStatus(ctx)
		require.NoError(t, err)
		require.Len(t, st.Sets, 5)
		require.Zero(t, st.Pending())
	}
	require.Equal(t, "true", limited.Call("has users"))

	// An unknown database: a typed refusal from the node.
	_, err = admin.MigrateStatus(ctx, client.MigrateDatabases("nope"))
	require.ErrorIs(t, err, client.ErrUnknownDatabase)

	for _, c := range []*client.Client{cl, admin} {
		require.NoError(t, c.Close(ctx))
	}
	// The client node stops first: the database nodes, whose peer it was,
	// exit without stopping remote.
	closeNode()
	limited.Quit()
	granted.Quit()
}
