package migrate_test

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/registry"
)

// Go migrations run in their set, on its connection: a tenant's sees the
// tenant's tables unqualified (search_path on PostgreSQL, the tenant's file
// on SQLite).
func TestGoMigrations(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			reg := newRegistry(t, main, extra)
			createTenants(t, ctx, reg, "tenant_a", "tenant_b")
			seed := goose.NewGoMigration(3,
				&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, "INSERT INTO orders (id, total) VALUES (1, 10)")
					return err
				}},
				&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, "DELETE FROM orders")
					return err
				}})
			m, err := migrate.New(reg, tree(), migrate.WithGoMigrations("default/tenants", seed))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := m.Up(ctx, migrate.Databases("default"))
			if err != nil {
				t.Fatal(err)
			}
			for _, tenant := range []string{"tenant_a", "tenant_b"} {
				if r := result(t, rep, "default/"+tenant); r.Version != 3 {
					t.Errorf("%s: %+v", tenant, r)
				}
				if n := count(t, ctx, reg, tenant, "orders"); n != 1 {
					t.Errorf("%s.orders: %d rows, want 1", tenant, n)
				}
			}
			if _, err := m.Down(ctx, migrate.Tenants("tenant_b"), migrate.Databases("default")); err != nil {
				t.Fatal(err)
			}
			if n := count(t, ctx, reg, "tenant_b", "orders"); n != 0 {
				t.Errorf("tenant_b.orders after down: %d rows", n)
			}
			if _, err := migrate.New(reg, tree(), migrate.WithGoMigrations("nope/tenants", seed)); err == nil {
				t.Error("a Go migration for a set that does not exist was accepted")
			}
		})
	}
}

func count(t *testing.T, ctx context.Context, reg *registry.Registry, schema, table string) int {
	t.Helper()
	q, err := registry.QualifiedTable(schema, table)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := registry.Run(ctx, reg, func(ctx context.Context) error {
		return reg.Database().DB().QueryRowContext(ctx, "SELECT count(*) FROM "+q).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// A second instance waits on the advisory lock while the first applies a
// migration, then finds nothing pending.
func TestPostgresLockWaits(t *testing.T) {
	ctx := ctxFor(t)
	url := testdb.NewPostgresDatabase(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	slow := goose.NewGoMigration(1,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			if calls.Add(1) == 1 {
				close(entered)
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			_, err := tx.ExecContext(ctx, "CREATE TABLE slow (id integer)")
			return err
		}},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return nil }})
	fsys := fstest.MapFS{}
	extra := "sqlite:///" + t.TempDir() + "/x.db"
	a, b := newRegistry(t, url, extra), newRegistry(t, url, extra)
	opts := []migrate.Option{migrate.WithGoMigrations("default", slow), migrate.Databases("default")}

	type outcome struct {
		rep *migrate.Report
		err error
	}
	first, second := make(chan outcome, 1), make(chan outcome, 1)
	go func() { r, err := migrate.Up(ctx, a, fsys, opts...); first <- outcome{r, err} }()
	<-entered
	go func() { r, err := migrate.Up(ctx, b, fsys, opts...); second <- outcome{r, err} }()

	// Wait until the second instance waits on the lock.
	if err := registry.Run(ctx, a, func(ctx context.Context) error {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var waiting int
			if err := a.Database().DB().QueryRowContext(ctx, `SELECT count(*) FROM pg_locks
				WHERE locktype = 'advisory' AND NOT granted
				AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
				return err
			}
			if waiting > 0 {
				return nil
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	close(release)
	o1, o2 := <-first, <-second
	if o1.err != nil || o2.err != nil {
		t.Fatal(o1.err, o2.err)
	}
	if r := result(t, o1.rep, "default"); len(r.Ran) != 1 || r.Version != 1 {
		t.Errorf("first instance: %+v", r)
	}
	if r := result(t, o2.rep, "default"); len(r.Ran) != 0 || r.Before != 1 {
		t.Errorf("second instance: %+v", r)
	}
	if calls.Load() != 1 {
		t.Errorf("the migration ran %d times", calls.Load())
	}
}
