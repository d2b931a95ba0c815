package migrate_test

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/registry"
)

// An in-memory SQLite database migrates its own set while connected; it
// has no tenant sets, and one nobody holds is refused (its tables would
// vanish with the count the run gives back).
func TestMemory(t *testing.T) {
	ctx := ctxFor(t)
	reg, err := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"}, registry.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(ctx) })
	fsys := fstest.MapFS{
		"default/00001_users.sql":          file("CREATE TABLE users (id integer PRIMARY KEY);", "DROP TABLE users;"),
		"default/tenants/00001_orders.sql": file("CREATE TABLE orders (id integer PRIMARY KEY);", "DROP TABLE orders;"),
	}
	if _, err := migrate.Up(ctx, reg, fsys); !errors.Is(err, migrate.ErrUnsupported) {
		t.Fatalf("unconnected memory database: %v", err)
	}
	if err := reg.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer reg.Disconnect(ctx)
	if err := reg.CreateSchema(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	rep, err := migrate.Up(ctx, reg, fsys)
	if !errors.Is(err, migrate.ErrUnsupported) {
		t.Fatalf("memory tenants: %v", err)
	}
	if r := result(t, rep, "default"); r.Err != nil || r.Version != 1 {
		t.Errorf("main set: %+v", r)
	}
	if r := result(t, rep, "default/acme"); !errors.Is(r.Err, migrate.ErrUnsupported) {
		t.Errorf("tenant set: %+v", r)
	}
	var n int
	if err := reg.Database().DB().QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		t.Fatal(err)
	}
}
