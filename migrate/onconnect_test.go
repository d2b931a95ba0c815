package migrate_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/registry"
)

// OnConnect applies pending migrations inside the first Connect; a failing
// migration fails that Connect and rolls it back.
func TestOnConnect(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			bad := tree()
			bad["analytics/00002_bad.sql"] = file("CREATE TABLE nope (id integer PRIMARY KEY; -- broken", "SELECT 1;")
			reg := newRegistry(t, main, extra, migrate.OnConnect(bad, migrate.NoTenants()))
			err := reg.Connect(ctx)
			var me *migrate.MigrationError
			if !errors.As(err, &me) || me.Database != "analytics" || me.Version != 2 {
				t.Fatalf("Connect = %v, want the analytics migration's failure", err)
			}
			// Rolled back: nothing holds the databases.
			for _, db := range reg.Databases() {
				st, err := db.Status(ctx)
				if err != nil || st.RefCount != 0 {
					t.Errorf("%s after the failed connect: %+v %v", db.Name(), st, err)
				}
			}
			if err := reg.Close(ctx); err != nil {
				t.Fatal(err)
			}

			// A good tree: Connect applies it, tenants included, and Run sees
			// the tables.
			reg = newRegistry(t, main, extra, migrate.OnConnect(tree()))
			createTenants(t, ctx, reg, "tenant_a")
			if err := registry.Run(ctx, reg, func(ctx context.Context) error {
				_, err := reg.Database().DB().ExecContext(ctx, "INSERT INTO users (id, name, email) VALUES (1, 'a', 'b')")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			// Once per registry: a second Connect only counts.
			if err := reg.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if err := reg.Disconnect(ctx); err != nil {
				t.Fatal(err)
			}
			st, err := migrate.Status(ctx, reg, tree())
			if err != nil || st.Pending() != 0 || len(st.Results) != 3 {
				t.Fatalf("status after OnConnect: %v %+v", err, st)
			}
		})
	}
}

// Create numbers migrations one after the other, per set.
func TestCreate(t *testing.T) {
	root := t.TempDir()
	var got []string
	for _, c := range []struct {
		db      string
		tenants bool
	}{{"", false}, {"", false}, {"analytics", false}, {"", true}} {
		p, err := migrate.Create(root, c.db, c.tenants, "step")
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		got = append(got, filepath.ToSlash(rel))
	}
	want := []string{"default/00001_step.sql", "default/00002_step.sql", "analytics/00001_step.sql", "default/tenants/00001_step.sql"}
	if !slices.Equal(got, want) {
		t.Errorf("Create wrote %v, want %v", got, want)
	}
	if _, err := migrate.Create(root, "", false, "bad name"); !errors.Is(err, migrate.ErrInvalidArgument) {
		t.Errorf("bad name: %v", err)
	}
}
