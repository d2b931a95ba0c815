// Command migrations shows versioned migrations for a whole registry on the
// embedded SQLite: a main database, an extra database ("analytics") and two
// tenant schemas of the main database, each with its own version table. It
// writes the migrations (migrate.Create), autogenerates one more from a
// registered model (autogen), shows the status, applies them, shows the
// status again, finds nothing left to generate, and rolls one back.
//
//	go run ./examples/migrations
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dbactor/dbactor/autogen"
	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/registry"
)

// Project is a model: its table comes from autogenerate, not by hand.
type Project struct {
	ID    int64  `db:"id,pk"`
	Name  string `db:"name,size=100,unique"`
	Owner *int64 `db:"owner,index"`
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "migrations:", err)
		os.Exit(1)
	}
}

// app is what the steps share.
type app struct {
	out  io.Writer
	dir  string // the migrations root
	reg  *registry.Registry
	step int
}

func (a *app) say(format string, args ...any) {
	a.step++
	fmt.Fprintf(a.out, "%d. "+format+"\n", append([]any{a.step}, args...)...)
}

func run(out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tmp, err := os.MkdirTemp("", "dbactor-migrations-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	reg, err := registry.New(nil, registry.Config{
		Database: "sqlite:///" + filepath.Join(tmp, "app.db"),
		Extra:    map[string]string{"analytics": "sqlite:///" + filepath.Join(tmp, "analytics.db")},
	}, registry.WithLogger(nil))
	if err != nil {
		return err
	}
	defer reg.Close(ctx)
	a := &app{out: out, dir: filepath.Join(tmp, "migrations"), reg: reg}

	// Each step is one part of the story.
	for _, step := range []func(context.Context) error{
		a.tenants,
		a.write,
		a.autogenerate,
		a.status,
		a.apply,
		a.status,
		a.autogenerate,
		a.rollback,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return reg.Close(ctx)
}

// tenants creates two tenant schemas: on SQLite, two files beside app.db.
func (a *app) tenants(ctx context.Context) error {
	for _, t := range []string{"acme", "globex"} {
		if err := a.reg.CreateSchema(ctx, t); err != nil {
			return err
		}
	}
	a.say("created tenant schemas acme and globex (files in app.db.schemas/)")
	return nil
}

// write creates one migration per set with migrate.Create and fills it in.
func (a *app) write(context.Context) error {
	sets := []struct {
		db      string
		tenants bool
		name    string
		up      string
		down    string
	}{
		{"", false, "users", "CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);", "DROP TABLE users;"},
		{"", false, "users_email", "ALTER TABLE users ADD COLUMN email text;", "ALTER TABLE users DROP COLUMN email;"},
		{"analytics", false, "events", "CREATE TABLE events (id integer PRIMARY KEY, kind text);", "DROP TABLE events;"},
		{"", true, "orders", "CREATE TABLE orders (id integer PRIMARY KEY, total integer NOT NULL);", "DROP TABLE orders;"},
	}
	var written []string
	for _, s := range sets {
		path, err := migrate.Create(a.dir, s.db, s.tenants, s.name)
		if err != nil {
			return err
		}
		body := "-- +goose Up\n" + s.up + "\n\n-- +goose Down\n" + s.down + "\n"
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return err
		}
		rel, _ := filepath.Rel(a.dir, path)
		written = append(written, filepath.ToSlash(rel))
	}
	a.say("wrote %d migrations: %s", len(written), strings.Join(written, ", "))
	return nil
}

// autogenerate registers the Project model (once) and writes the migration
// that makes the database match the models: none when nothing differs.
func (a *app) autogenerate(ctx context.Context) error {
	if _, err := a.reg.Model("Project"); err != nil {
		if _, err := a.reg.RegisterModel(ctx, Project{}); err != nil {
			return err
		}
	}
	changes, err := autogen.Diff(ctx, a.reg)
	if err != nil {
		return err
	}
	files, err := autogen.Write(a.dir, "projects", changes)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		a.say("autogenerate: the database matches the models, nothing written")
		return nil
	}
	for i, f := range files {
		rel, _ := filepath.Rel(a.dir, f)
		files[i] = filepath.ToSlash(rel)
	}
	a.say("autogenerate: registered model Project has no table yet; wrote %s", strings.Join(files, ", "))
	return nil
}

func (a *app) status(ctx context.Context) error {
	rep, err := migrate.Status(ctx, a.reg, os.DirFS(a.dir))
	if err != nil {
		return err
	}
	a.say("status: %d pending", rep.Pending())
	_, err = rep.WriteTo(indent{a.out})
	return err
}

func (a *app) apply(ctx context.Context) error {
	rep, err := migrate.Up(ctx, a.reg, os.DirFS(a.dir))
	if err != nil {
		return err
	}
	ran := 0
	for _, r := range rep.Results {
		ran += len(r.Ran)
	}
	a.say("up: applied %d migrations over %d sets, each set with its own version table", ran, len(rep.Results))
	return nil
}

func (a *app) rollback(ctx context.Context) error {
	rep, err := migrate.Down(ctx, a.reg, os.DirFS(a.dir), migrate.Databases("default"), migrate.NoTenants())
	if err != nil {
		return err
	}
	r := rep.Results[0]
	a.say("down on the main database only: version %d -> %d (rolled back %s)", r.Before, r.Version, r.Ran[0].Source)
	return nil
}

// indent writes every line two spaces in.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	s := strings.TrimSuffix(string(p), "\n")
	_, err := io.WriteString(i.w, "   "+strings.ReplaceAll(s, "\n", "\n   ")+"\n")
	return len(p), err
}
