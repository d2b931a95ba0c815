package introspect_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dbactor/dbactor/introspect"
	"github.com/dbactor/dbactor/registry"
)

// Read a table that was created by hand into a model.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "introspect-example")
	defer os.RemoveAll(dir)

	reg, err := registry.New(nil, registry.Config{Database: "sqlite:///" + filepath.Join(dir, "app.db")},
		registry.WithLogger(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close(ctx)
	if err := reg.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_, err = reg.Database().DB().ExecContext(ctx,
		`CREATE TABLE legacy_users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, born DATE)`)
	if err != nil {
		fmt.Println(err)
		return
	}

	m, err := introspect.Table(ctx, reg.Database(), "", "legacy_users", introspect.Name("User"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Name(), m.Table())
	for _, c := range m.Columns() {
		fmt.Printf("%s %s pk=%t auto=%t null=%t unique=%t size=%d\n", c.GetName(), c.GetType(),
			c.GetPrimaryKey(), c.GetAutoIncrement(), c.GetNullable(), c.GetUnique(), c.GetMaxLength())
	}
	// Output:
	// User legacy_users
	// id COLUMN_TYPE_BIGINT pk=true auto=true null=false unique=false size=0
	// email COLUMN_TYPE_TEXT pk=false auto=false null=false unique=true size=255
	// born COLUMN_TYPE_DATE pk=false auto=false null=true unique=false size=0
}
