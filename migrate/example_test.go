package migrate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/registry"
)

// Migrations for the main database and for every tenant schema of it,
// applied on the embedded SQLite, where a tenant is a file beside app.db.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "migrate-example-")
	defer os.RemoveAll(dir)
	reg, _ := registry.New(nil, registry.Config{Database: "sqlite:///" + filepath.Join(dir, "app.db")}, registry.WithLogger(nil))
	defer reg.Close(ctx)
	_ = reg.CreateSchema(ctx, "acme")

	fsys := fstest.MapFS{
		"default/00001_users.sql": {Data: []byte(
			"-- +goose Up\nCREATE TABLE users (id integer PRIMARY KEY);\n-- +goose Down\nDROP TABLE users;\n")},
		"default/tenants/00001_orders.sql": {Data: []byte(
			"-- +goose Up\nCREATE TABLE orders (id integer PRIMARY KEY);\n-- +goose Down\nDROP TABLE orders;\n")},
	}
	rep, err := migrate.Up(ctx, reg, fsys)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = rep.WriteTo(os.Stdout)
	// Output:
	// default: version 0 -> 1, applied 1, 0 pending
	//   applied    00001_users.sql
	// default/acme: version 0 -> 1, applied 1, 0 pending
	//   applied    00001_orders.sql
}
