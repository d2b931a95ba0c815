package migrate_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/registry"
)

// localClient is a client.Client of reg in its own actor system: the same
// requests and replies as across nodes, without the trust boundary (which
// the remote test and tests/security cover).
func localClient(t *testing.T, reg *registry.Registry) *client.Client {
	t.Helper()
	cl, err := client.Attach(reg.System(), reg.PID(), client.WithCallTimeout(30*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, cl.Close(ctx))
	})
	return cl
}

// set finds a set of a client report ("default", "default/tenant_a", …).
func set(t *testing.T, rep *client.MigrationReport, name string) client.MigrationSet {
	t.Helper()
	for _, s := range rep.Sets {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no set %s in %+v", name, rep.Sets)
	return client.MigrationSet{}
}

func clientVersions(ms []client.Migration) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

func TestServe(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			reg := newRegistry(t, main, extra)
			createTenants(t, ctx, reg, tenants...)
			cl := localClient(t, reg)

			// Not served yet: a typed refusal.
			_, err := cl.MigrateStatus(ctx)
			require.ErrorIs(t, err, client.ErrUnsupported)

			// Serve takes the tree's options only.
			require.ErrorIs(t, migrate.Serve(ctx, reg, tree(), migrate.Databases("analytics")), migrate.ErrInvalidArgument)
			require.ErrorIs(t, migrate.Serve(ctx, reg, fstestWith("nope/00001_x.sql")), migrate.ErrLayout)
			require.NoError(t, migrate.Serve(ctx, reg, tree()))

			st, err := cl.MigrateStatus(ctx)
			require.NoError(t, err)
			require.Equal(t, "status", st.Op)
			require.Len(t, st.Sets, 5)
			require.Equal(t, 9, st.Pending())
			require.False(t, st.Truncated)
			def := set(t, st, "default")
			require.Equal(t, []int64{1, 2}, clientVersions(def.Migrations))
			require.Equal(t, "00001_users.sql", def.Migrations[0].Source)
			require.Equal(t, 2, def.Pending)

			// A dry run reports and applies nothing.
			dry, err := cl.MigrateUp(ctx, client.MigrateDryRun())
			require.NoError(t, err)
			require.True(t, dry.DryRun)
			require.Equal(t, []int64{1, 2}, clientVersions(set(t, dry, "default/tenant_b").Ran))
			st, err = cl.MigrateStatus(ctx)
			require.NoError(t, err)
			require.Equal(t, 9, st.Pending(), "the dry run applied something")

			// Up to version 1 on the main database's own set only.
			rep, err := cl.MigrateUp(ctx, client.MigrateDatabases(client.MainDatabaseDir), client.MigrateNoTenants(), client.MigrateTo(1))
			require.NoError(t, err)
			require.Len(t, rep.Sets, 1)
			s := rep.Sets[0]
			require.Equal(t, int64(0), s.Before)
			require.Equal(t, int64(1), s.Version)
			require.Equal(t, []int64{1}, clientVersions(s.Ran))
			require.False(t, s.Ran[0].AppliedAt.IsZero())
			require.Equal(t, 1, s.Applied)
			require.Equal(t, 1, s.Pending)

			rep, err = cl.MigrateUp(ctx)
			require.NoError(t, err)
			require.Equal(t, 0, rep.Pending())
			require.Equal(t, []int64{2}, clientVersions(set(t, rep, "default").Ran))
			st, err = cl.MigrateStatus(ctx)
			require.NoError(t, err)
			require.Equal(t, 0, st.Pending())
			for _, s := range st.Sets {
				require.NoError(t, s.Err)
				require.Zero(t, s.Pending, s.Name())
			}

			// Down one tenant to 0.
			rep, err = cl.MigrateDown(ctx, client.MigrateTenants("tenant_a"), client.MigrateDatabases(""), client.MigrateTo(0))
			require.NoError(t, err)
			a := set(t, rep, "default/tenant_a")
			require.Equal(t, []int64{2, 1}, clientVersions(a.Ran))
			require.Equal(t, int64(0), a.Version)
			require.Equal(t, 2, a.Pending)

			// Refused as a whole: unknown database, negative target.
			_, err = cl.MigrateStatus(ctx, client.MigrateDatabases("nope"))
			require.ErrorIs(t, err, client.ErrUnknownDatabase)
			_, err = cl.MigrateUp(ctx, client.MigrateTo(-1))
			require.ErrorIs(t, err, client.ErrInvalidArgument)

			// The registry validates what any sender sends, not only the client.
			neg := int64(-1)
			for _, c := range []struct {
				m    *messages.Migrate
				code messages.Code
			}{
				{&messages.Migrate{Op: 9}, messages.Code_CODE_INVALID_ARGUMENT},
				{&messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_DOWN, To: &neg}, messages.Code_CODE_INVALID_ARGUMENT},
				{&messages.Migrate{Tenants: []string{"bad\x00name"}}, messages.Code_CODE_INVALID_NAME},
				{&messages.Migrate{Databases: []string{migrate.MainDir}}, messages.Code_CODE_UNKNOWN_DATABASE},
			} {
				r, err := reg.System().Root.RequestFuture(reg.PID(), c.m, 30*time.Second).Result()
				require.NoError(t, err)
				require.Equal(t, c.code, r.(*messages.MigrateResult).GetError().GetCode(), "%v", c.m)
			}
		})
	}
}

// fstestWith is a tree of empty-bodied migrations at paths.
func fstestWith(paths ...string) fstest.MapFS {
	fs := fstest.MapFS{}
	for _, p := range paths {
		fs[p] = file("SELECT 1;", "SELECT 1;")
	}
	return fs
}

// A failed set reads, on the client, as a *client.MigrationError naming the
// migration; it matches migrate.ErrMigration as the local error does, and
// nothing half-applied is reported applied.
func TestServeFailure(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			reg := newRegistry(t, main, extra)
			createTenants(t, ctx, reg, tenants...)
			q, err := registry.QualifiedTable("tenant_b", "blocker")
			require.NoError(t, err)
			require.NoError(t, registry.Run(ctx, reg, func(ctx context.Context) error {
				_, err := reg.Database().DB().ExecContext(ctx, "CREATE TABLE "+q+" (id integer)")
				return err
			}))
			require.NoError(t, migrate.Serve(ctx, reg, tree()))
			cl := localClient(t, reg)

			rep, err := cl.MigrateUp(ctx)
			var me *client.MigrationError
			require.ErrorAs(t, err, &me)
			require.ErrorIs(t, err, migrate.ErrMigration)
			require.ErrorIs(t, err, client.ErrMigration)
			require.Equal(t, "", me.Database)
			require.Equal(t, "tenant_b", me.Schema)
			require.Equal(t, int64(2), me.Version)
			require.Equal(t, "00002_blocker.sql", me.Source)
			require.Equal(t, "up", me.Op)
			var pe *messages.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, messages.Code_CODE_MIGRATION, pe.GetCode())
			if d.name == "postgres" {
				require.Equal(t, "42P07", pe.GetSqlstate(), "duplicate_table")
			}
			require.NotNil(t, rep)
			b := set(t, rep, "default/tenant_b")
			require.Error(t, b.Err)
			require.Equal(t, int64(1), b.Version)
			require.Equal(t, []int64{1}, clientVersions(b.Ran))
			require.Equal(t, 1, b.Pending)
			require.Len(t, rep.Sets, 5)
			for _, name := range []string{"default", "analytics", "default/tenant_a", "default/tenant_c"} {
				s := set(t, rep, name)
				require.NoError(t, s.Err, name)
				require.Zero(t, s.Pending, name)
			}
			require.Len(t, rep.Err().(interface{ Unwrap() []error }).Unwrap(), 1)
		})
	}
}

// A reply larger than its limit leaves lists out, then sets — successful
// ones first — and says so; the error still counts failed sets left out.
func TestServeReplyLimit(t *testing.T) {
	ctx := ctxFor(t)
	main, extra := dialects()[0].urls(t)
	reg := newRegistry(t, main, extra)
	many := []string{"t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"}
	createTenants(t, ctx, reg, many...)
	require.NoError(t, migrate.Serve(ctx, reg, tree()))
	cl := localClient(t, reg)

	full, err := cl.MigrateStatus(ctx)
	require.NoError(t, err)
	require.Len(t, full.Sets, 2+len(many))
	require.False(t, full.Truncated)

	// Lists left out: every set still there, with its counts.
	lists, err := cl.MigrateStatus(ctx, client.MigrateReplyLimit(500))
	require.NoError(t, err)
	require.True(t, lists.Truncated)
	require.Zero(t, lists.OmittedSets)
	require.Len(t, lists.Sets, len(full.Sets))
	require.Equal(t, full.Pending(), lists.Pending())
	for _, s := range lists.Sets {
		require.Nil(t, s.Migrations)
	}

	// Sets left out; a failed one (unknown tenant) is kept longest.
	few, err := cl.MigrateStatus(ctx, client.MigrateReplyLimit(150), client.MigrateTenants(append(slices.Clone(many), "nope")...))
	require.ErrorIs(t, err, client.ErrMigration)
	require.True(t, few.Truncated)
	require.Positive(t, few.OmittedSets)
	require.Less(t, len(few.Sets), len(full.Sets)+1)
	require.Equal(t, len(full.Sets)+1, len(few.Sets)+few.OmittedSets)
	last := few.Sets[len(few.Sets)-1]
	require.Equal(t, "default/nope", last.Name())
	var me *client.MigrationError
	require.True(t, errors.As(err, &me))
	require.Equal(t, "nope", me.Schema)
}

// Many requests at once: migrate.MaxServed run, the others are refused
// with ErrOverloaded at once, and every request is answered. The first Up
// holds its set (a Go migration that waits), the next ones wait for its
// lock: none can end before the overflow arrives. A second round (another
// held migration) finds the whole capacity back; each round sends one
// message value several times, as a local sender may.
func TestServeBounded(t *testing.T) {
	ctx := ctxFor(t)
	main, extra := dialects()[0].urls(t)
	reg := newRegistry(t, main, extra)
	var holds []*goose.Migration
	for round, version := range []int64{3, 4} {
		entered, release := make(chan struct{}), make(chan struct{})
		holds = append(holds, goose.NewGoMigration(version, &goose.GoFunc{RunTx: func(ctx context.Context, _ *sql.Tx) error {
			close(entered)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}, &goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }}))
		require.NoError(t, migrate.Serve(ctx, reg, tree(), migrate.WithGoMigrations(migrate.MainDir, holds...)))
		up := &messages.Migrate{Op: messages.MigrateOp_MIGRATE_OP_UP, Databases: []string{""}, NoTenants: true}
		var held []*actor.Future
		for range migrate.MaxServed {
			held = append(held, reg.System().Root.RequestFuture(reg.PID(), up, 30*time.Second))
		}
		<-entered
		// Sent after the held ones: the registry actor sees them with
		// MaxServed under way.
		for range 2 * migrate.MaxServed {
			r, err := reg.System().Root.RequestFuture(reg.PID(), up, 30*time.Second).Result()
			require.NoError(t, err)
			require.Equal(t, messages.Code_CODE_OVERLOADED, r.(*messages.MigrateResult).GetError().GetCode(), "round %d", round)
		}
		close(release)
		ran := 0
		for _, f := range held {
			r, err := f.Result()
			require.NoError(t, err)
			res := r.(*messages.MigrateResult)
			require.Nil(t, res.GetError(), "round %d", round)
			require.Len(t, res.GetSets(), 1)
			require.Nil(t, res.GetSets()[0].GetError())
			ran += len(res.GetSets()[0].GetRan())
			require.Equal(t, version, res.GetSets()[0].GetVersion())
		}
		require.Equal(t, []int{3, 1}[round], ran, "each migration applied exactly once")
	}
}

// From inside an actor: the same request, answered as a continuation on
// the actor, which is never blocked meanwhile.
func TestServeAsync(t *testing.T) {
	ctx := ctxFor(t)
	main, extra := dialects()[0].urls(t)
	reg := newRegistry(t, main, extra)
	require.NoError(t, migrate.Serve(ctx, reg, tree()))
	type outcome struct {
		rep *client.MigrationReport
		err error
	}
	got := make(chan outcome, 2)
	as := client.Async{Registry: reg.PID(), Timeout: 30 * time.Second}
	pid := reg.System().Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*actor.Started); ok {
			as.MigrateUp(c, func(rep *client.MigrationReport, err error) {
				got <- outcome{rep, err}
				as.MigrateStatus(c, func(rep *client.MigrationReport, err error) { got <- outcome{rep, err} })
			}, client.MigrateNoTenants())
		}
	}))
	t.Cleanup(func() { _ = reg.System().Root.StopFuture(pid).Wait() })
	next := func() outcome {
		select {
		case o := <-got:
			return o
		case <-ctx.Done():
			t.Fatal("no answer")
			return outcome{}
		}
	}
	up := next()
	require.NoError(t, up.err)
	require.Equal(t, "up", up.rep.Op)
	require.Equal(t, []int64{1, 2}, clientVersions(set(t, up.rep, "default").Ran))
	st := next()
	require.NoError(t, st.err)
	require.Zero(t, st.rep.Pending())
}
