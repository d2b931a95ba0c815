// Command tenancy keeps each tenant's rows in a schema of its own: one model
// set, one table per tenant schema, created with one call and dropped with
// another. It runs on PostgreSQL when DBACTOR_TEST_DATABASE is set, else on
// the embedded SQLite, where each schema is a database file attached beside
// the main one — the same code either way.
//
//	go run ./examples/tenancy
//	DBACTOR_TEST_DATABASE=postgres://postgres@127.0.0.1:5432/test go run ./examples/tenancy
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/registry"
)

// User is a model: a Go struct whose tags name the columns.
type User struct {
	ID    int64   `db:"id,pk"`
	Name  string  `db:"name"`
	Email *string `db:"email,unique"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tenancy:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	url := os.Getenv("DBACTOR_TEST_DATABASE")
	if url == "" {
		dir, err := os.MkdirTemp("", "dbactor-tenancy-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		url = "sqlite:///" + filepath.Join(dir, "app.db")
	}
	reg, err := registry.New(nil, registry.Config{Database: url})
	if err != nil {
		return err
	}
	defer reg.Close(ctx)
	users, err := reg.RegisterModel(ctx, User{})
	if err != nil {
		return err
	}
	fmt.Printf("1. %s: model %s, table %s\n", reg.Database().Dialect(), users.Name(), users.Table())

	// 2. One schema per tenant, with every model's table inside. No Connect
	//    needed: schema calls connect on demand.
	tenants := []string{"tenant_a", "tenant_b"}
	for _, t := range tenants {
		_ = reg.DropSchema(ctx, t, registry.Cascade(), registry.IfExists()) // a clean slate
		if err := reg.CreateSchema(ctx, t, registry.WithModels()); err != nil {
			return err
		}
	}
	def, err := reg.DefaultSchema(ctx, "")
	if err != nil {
		return err
	}
	fmt.Printf("2. created %v (default schema %q)\n", tenants, def)

	// 3. Write rows into each tenant through the qualified table name.
	if err := reg.Connect(ctx); err != nil {
		return err
	}
	db := reg.Database().DB()
	ph := "?"
	if reg.Database().Dialect() == client.Postgres {
		ph = "$1"
	}
	for i, t := range tenants {
		table, err := users.QualifiedTable(t) // "tenant_a"."users", validated and quoted
		if err != nil {
			return err
		}
		for n := range (i + 1) * 2 {
			q := "INSERT INTO " + table + " (name) VALUES (" + ph + ")"
			if _, err := db.ExecContext(ctx, q, fmt.Sprintf("%s-user-%d", t, n)); err != nil {
				return err
			}
		}
	}
	for _, t := range tenants {
		table, err := users.QualifiedTable(t)
		if err != nil {
			return err
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			return err
		}
		fmt.Printf("3. %s holds %d users\n", t, n)
	}
	if err := reg.Disconnect(ctx); err != nil {
		return err
	}

	// 4. Drop one tenant; the other is untouched.
	if err := reg.DropSchema(ctx, "tenant_a", registry.Cascade()); err != nil {
		return err
	}
	if err := reg.DropSchema(ctx, "tenant_a"); err != nil {
		fmt.Println("4. dropping it again:", err)
	}
	schemas, err := reg.Schemas(ctx, "")
	if err != nil {
		return err
	}
	fmt.Printf("4. schemas now: %v\n", schemas)
	if err := reg.DropSchema(ctx, "tenant_b", registry.Cascade()); err != nil {
		return err
	}
	return reg.Close(ctx)
}
