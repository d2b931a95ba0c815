package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
