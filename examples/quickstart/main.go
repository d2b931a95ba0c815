// Command quickstart walks through dbactor on the embedded SQLite driver, with
// no server: a registry with a main database and one extra, connected as one
// unit, queried through database/sql, nested connects with their ref counts,
// an extra that cannot connect (and the rollback it causes), and Close.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dbactor/dbactor/registry"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	dir, err := os.MkdirTemp("", "dbactor-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 1. A registry: the main database plus an extra, each owned by an actor.
	//    A nil actor system gives the registry a quiet one of its own.
	reg, err := registry.New(nil, registry.Config{
		Database: "sqlite:///" + filepath.Join(dir, "app.db"),
		Extra:    map[string]string{"analytics": "sqlite:///" + filepath.Join(dir, "analytics.db")},
	})
	if err != nil {
		return err
	}
	defer reg.Close(ctx)
	fmt.Println("1. registry actor spawned:", reg.PID().GetId())

	// 2. Connect all databases at once: all or nothing.
	if err := reg.Connect(ctx); err != nil {
		return err
	}
	analytics, err := reg.Extra("analytics")
	if err != nil {
		return err
	}
	fmt.Println("2. connected:")
	for _, db := range reg.Databases() {
		st, err := db.Status(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("   %-22s connected=%v ref_count=%d dialect=%s\n", label(db), st.Connected, st.RefCount, st.Dialect)
	}

	// 3. Queries never pass through an actor: use the *sql.DB the actor owns.
	sqldb := reg.Database().DB()
	if _, err := sqldb.ExecContext(ctx, `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return err
	}
	for _, name := range []string{"ada", "grace"} {
		if _, err := sqldb.ExecContext(ctx, `INSERT INTO users (name) VALUES (?)`, name); err != nil {
			return err
		}
	}
	var n int
	if err := sqldb.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return err
	}
	fmt.Printf("3. wrote and read through db.DB(): %d users\n", n)

	// 4. Connects nest: the ref count goes up, and only the last disconnect
	//    closes the pool.
	opened, err := analytics.Connect(ctx)
	if err != nil {
		return err
	}
	st, _ := analytics.Status(ctx)
	fmt.Printf("4. analytics.Connect: opened=%v ref_count=%d\n", opened, st.RefCount)
	closed, err := analytics.Disconnect(ctx)
	if err != nil {
		return err
	}
	st, _ = analytics.Status(ctx)
	fmt.Printf("   analytics.Disconnect: closed=%v ref_count=%d (still connected: %v)\n", closed, st.RefCount, st.Connected)
	if err := reg.Disconnect(ctx); err != nil {
		return err
	}
	st, _ = analytics.Status(ctx)
	fmt.Printf("   reg.Disconnect: ref_count=%d connected=%v, Pool/DB now nil: %v\n", st.RefCount, st.Connected, analytics.DB() == nil)

	// 5. An extra that cannot connect: its directory does not exist. The
	//    registry rolls back the main database, which did connect.
	broken, err := registry.New(nil, registry.Config{
		Database: "sqlite:///" + filepath.Join(dir, "main2.db"),
		Extra:    map[string]string{"reports": "sqlite:///" + filepath.Join(dir, "missing-dir", "reports.db") + "?mode=rw"},
	})
	if err != nil {
		return err
	}
	defer broken.Close(ctx)
	err = broken.Connect(ctx)
	var ce *registry.ConnectError
	if !errors.As(err, &ce) {
		return fmt.Errorf("expected a connect error, got %v", err)
	}
	fmt.Printf("5. connect with a broken extra failed for database %q:\n   %v\n", ce.Database, err)
	st, _ = broken.Database().Status(ctx)
	fmt.Printf("   rolled back: main database connected=%v ref_count=%d\n", st.Connected, st.RefCount)

	// 6. Close stops the actors and closes every pool; later calls fail fast.
	if err := reg.Close(ctx); err != nil {
		return err
	}
	_, err = reg.Database().Connect(ctx)
	fmt.Println("6. closed; a later call fails fast:", errors.Is(err, registry.ErrClosed))
	return nil
}

func label(db *registry.Database) string {
	if db.Name() == "" {
		return "main database"
	}
	return fmt.Sprintf("extra %q", db.Name())
}
