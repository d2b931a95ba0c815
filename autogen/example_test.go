package autogen_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dbactor/dbactor/autogen"
	"github.com/dbactor/dbactor/registry"
)

type Book struct {
	ID    int64  `db:"id,pk"`
	Title string `db:"title,index"`
}

// Diff the registered models with an empty SQLite database and write the
// first migration.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "autogen-example")
	defer os.RemoveAll(dir)

	reg, err := registry.New(nil, registry.Config{Database: "sqlite:///" + filepath.Join(dir, "app.db")},
		registry.WithLogger(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close(ctx)
	if _, err := reg.RegisterModel(ctx, Book{}); err != nil {
		fmt.Println(err)
		return
	}

	changes, err := autogen.Diff(ctx, reg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range changes {
		fmt.Printf("database %q: %v\n", c.Database, c.Comments)
	}
	files, err := autogen.Write(filepath.Join(dir, "migrations"), "create books", changes)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		fmt.Println(filepath.ToSlash(rel))
	}
	// Output:
	// database "": [create "books" table create index "books_title_idx" to table: "books"]
	// migrations/default/00001_create_books.sql
}
