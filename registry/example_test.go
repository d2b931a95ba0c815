package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// A registry with a main database and an extra, connected as one unit.
func Example() {
	ctx := context.Background()
	reg, err := registry.New(nil, registry.Config{
		Database: "sqlite:///:memory:",
		Extra:    map[string]string{"analytics": "sqlite:///:memory:"},
	})
	if err != nil {
		panic(err)
	}
	defer reg.Close(ctx)

	if err := reg.Connect(ctx); err != nil {
		panic(err)
	}
	var answer int
	_ = reg.Database().DB().QueryRowContext(ctx, "SELECT 6 * 7").Scan(&answer)
	analytics, _ := reg.Extra("analytics")
	st, _ := analytics.Status(ctx)
	fmt.Println("answer:", answer)
	fmt.Println("analytics connected:", st.Connected, "ref count:", st.RefCount)

	if err := reg.Disconnect(ctx); err != nil {
		panic(err)
	}
	fmt.Println("after disconnect, DB() is nil:", reg.Database().DB() == nil)
	// Output:
	// answer: 42
	// analytics connected: true ref count: 1
	// after disconnect, DB() is nil: true
}

// Connects nest: only the first opens the pool and only the last closes it.
func ExampleDatabase_Connect() {
	ctx := context.Background()
	reg, _ := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"})
	defer reg.Close(ctx)
	db := reg.Database()

	opened, _ := db.Connect(ctx)
	fmt.Println("first connect opened:", opened)
	opened, _ = db.Connect(ctx)
	fmt.Println("second connect opened:", opened)
	closed, _ := db.Disconnect(ctx)
	fmt.Println("first disconnect closed:", closed)
	closed, _ = db.Disconnect(ctx)
	fmt.Println("second disconnect closed:", closed)
	// Output:
	// first connect opened: true
	// second connect opened: false
	// first disconnect closed: false
	// second disconnect closed: true
}

// When one database cannot connect, the others are rolled back and the
// error names the database that failed.
func ExampleRegistry_Connect_rollback() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "dbactor-example-")
	defer os.RemoveAll(dir)
	reg, _ := registry.New(nil, registry.Config{
		Database: "sqlite:///:memory:",
		Extra:    map[string]string{"reports": "sqlite:///" + filepath.Join(dir, "missing", "reports.db")},
	})
	defer reg.Close(ctx)

	err := reg.Connect(ctx)
	var ce *registry.ConnectError
	if errors.As(err, &ce) {
		fmt.Printf("connect of %q failed: %v\n", ce.Database, errors.Is(err, registry.ErrConnectFailed))
	}
	st, _ := reg.Database().Status(ctx)
	fmt.Println("main database rolled back:", !st.Connected, st.RefCount)
	// Output:
	// connect of "reports" failed: true
	// main database rolled back: true 0
}

// A schema per tenant, with the registered models' tables inside, on the
// embedded SQLite (a schema there is an attached database file).
func ExampleRegistry_CreateSchema() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "dbactor-example-")
	defer os.RemoveAll(dir)
	reg, _ := registry.New(nil, registry.Config{Database: "sqlite:///" + filepath.Join(dir, "app.db")})
	defer reg.Close(ctx)

	type Note struct {
		ID   int64  `db:"id,pk"`
		Text string `db:"text"`
	}
	notes, _ := reg.RegisterModel(ctx, Note{})
	table, _ := notes.QualifiedTable("tenant_a") // "tenant_a"."notes"
	if err := reg.CreateSchema(ctx, "tenant_a", registry.WithModels()); err != nil {
		panic(err)
	}
	err := reg.CreateSchema(ctx, "tenant_a")
	fmt.Println("again:", errors.Is(err, registry.ErrSchema), err)

	_ = reg.Connect(ctx)
	_, _ = reg.Database().DB().ExecContext(ctx, "INSERT INTO "+table+" (text) VALUES ('hi')")
	var n int
	_ = reg.Database().DB().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	fmt.Println("notes in tenant_a:", n)
	_ = reg.Disconnect(ctx)

	schemas, _ := reg.Schemas(ctx, "")
	fmt.Println("schemas:", schemas)
	// Output:
	// again: true dbactor: create schema "tenant_a" on main database: schema "tenant_a" already exists
	// notes in tenant_a: 1
	// schemas: [main tenant_a]
}

// A Go func as a callback actor for every model: it hears about models
// registered before and after it subscribed, in order.
func ExampleRegistry_RegisterCallbackFunc() {
	ctx := context.Background()
	reg, _ := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"})
	defer reg.Close(ctx)

	type Author struct {
		ID int64 `db:"id,pk"`
	}
	type Book struct {
		ID       int64 `db:"id,pk"`
		AuthorID int64 `db:"author_id,references=authors.id"`
	}
	_, _ = reg.RegisterModel(ctx, Author{})
	seen := make(chan string)
	_, _ = reg.RegisterCallbackFunc(ctx, "", func(ev *messages.ModelRegistered) {
		seen <- fmt.Sprintf("%s -> table %s", ev.GetName(), ev.GetTable())
	})
	fmt.Println(<-seen)
	_, _ = reg.RegisterModel(ctx, Book{})
	fmt.Println(<-seen)
	// Output:
	// Author -> table authors
	// Book -> table books
}

// Run holds a ref count for one operation. On a database nobody connected
// it warns (Edgy's DatabaseNotConnectedWarning) and connects for the
// operation only.
func ExampleDatabase_Run() {
	ctx := context.Background()
	reg, _ := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"},
		registry.WithEventHook(func(ev messages.Event) {
			if e, ok := ev.(*messages.DatabaseNotConnected); ok {
				fmt.Printf("warning: %q not connected (refused: %v)\n", e.GetDatabase(), e.GetRefused())
			}
		}))
	defer reg.Close(ctx)

	var n int
	_ = reg.Database().Run(ctx, func(ctx context.Context, q actors.Querier) error {
		return q.QueryRowContext(ctx, "SELECT 2 + 2").Scan(&n)
	})
	fmt.Println("result:", n, "connected afterwards:", reg.Database().DB() != nil)

	_ = reg.Connect(ctx)
	_ = reg.Database().Run(ctx, func(ctx context.Context, q actors.Querier) error {
		return q.QueryRowContext(ctx, "SELECT 3 + 3").Scan(&n)
	})
	fmt.Println("result:", n, "(no warning while connected)")
	_ = reg.Disconnect(ctx)
	// Output:
	// warning: "" not connected (refused: false)
	// result: 4 connected afterwards: false
	// result: 6 (no warning while connected)
}

// A force-rollback database (for tests) rolls back what Run wrote when its
// count returns to 0; DDL persists.
func ExampleWithForceRollback() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "dbactor-example-")
	defer os.RemoveAll(dir)
	url := "sqlite:///" + filepath.Join(dir, "app.db")

	count := func(reg *registry.Registry) (n int) {
		_ = reg.Database().Run(ctx, func(ctx context.Context, q actors.Querier) error {
			return q.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n)
		})
		return n
	}
	for round := 1; round <= 2; round++ {
		reg, _ := registry.New(nil, registry.Config{Database: url}, registry.WithForceRollback(""))
		_ = reg.Connect(ctx)
		_, _ = reg.Database().DB().ExecContext(ctx, "CREATE TABLE IF NOT EXISTS notes (body TEXT)")
		_ = reg.Database().Run(ctx, func(ctx context.Context, q actors.Querier) error {
			_, err := q.ExecContext(ctx, "INSERT INTO notes VALUES ('hello')")
			return err
		})
		fmt.Printf("round %d sees %d note(s)\n", round, count(reg))
		_ = reg.Close(ctx) // the count reaches 0: rolled back
	}
	// Output:
	// round 1 sees 1 note(s)
	// round 2 sees 1 note(s)
}

// Extra databases are addressed by name; an unknown name is a typed error.
func ExampleRegistry_Extra() {
	reg, _ := registry.New(nil, registry.Config{
		Database: "sqlite:///:memory:",
		Extra:    map[string]string{"reports": "sqlite:///:memory:"},
	})
	defer reg.Close(context.Background())

	reports, _ := reg.Extra("reports")
	fmt.Println(reports.Name(), reports.Dialect())
	_, err := reg.Extra("nope")
	fmt.Println(errors.Is(err, registry.ErrUnknownDatabase))
	for _, db := range reg.Databases() {
		fmt.Printf("%q ", db.Name())
	}
	fmt.Println()
	// Output:
	// reports sqlite
	// true
	// "" "reports"
}
