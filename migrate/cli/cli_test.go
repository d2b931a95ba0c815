package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/migrate/cli"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

type User struct {
	ID   int64  `db:"id,pk"`
	Name string `db:"name"`
}

// An application's own binary: its registry (with its models), its
// embedded migrations, its diff.
func TestApp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "sqlite:///" + filepath.Join(t.TempDir(), "app.db")
	var built cli.Config
	var diffed struct {
		dir, name string
		models    int
	}
	var out, errb bytes.Buffer
	app := &cli.App{
		Name: "myapp",
		FS: fstest.MapFS{"default/00001_users.sql": {Data: []byte(
			"-- +goose Up\nCREATE TABLE users (id integer PRIMARY KEY, name text);\n-- +goose Down\nDROP TABLE users;\n")}},
		Registry: func(ctx context.Context, cfg cli.Config) (*registry.Registry, error) {
			built = cfg
			reg, err := registry.New(nil, cfg.Registry(), registry.WithLogger(cfg.Logger))
			if err != nil {
				return nil, err
			}
			_, err = reg.RegisterModel(ctx, User{})
			return reg, err
		},
		Diff: func(ctx context.Context, reg *registry.Registry, dir, name string) ([]string, error) {
			diffed.dir, diffed.name, diffed.models = dir, name, len(reg.Models())
			return []string{filepath.Join(dir, "default", "00002_"+name+".sql")}, nil
		},
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string {
			if k == "DBACTOR_DATABASE" {
				return url
			}
			return ""
		},
	}
	if code := app.Main(ctx, []string{"migrate", "up"}); code != cli.ExitOK {
		t.Fatalf("up: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "default: version 0 -> 1, applied 1") || built.Database != url {
		t.Errorf("up: %s (config %+v)", out.String(), built)
	}
	out.Reset()
	if code := app.Main(ctx, []string{"diff", "--name", "add_email", "--dir", "db", "--check"}); code != cli.ExitPending {
		t.Fatalf("diff --check: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if diffed.dir != "db" || diffed.name != "add_email" || diffed.models != 1 {
		t.Errorf("diff called with %+v", diffed)
	}
	if !strings.Contains(out.String(), "wrote "+filepath.Join("db", "default", "00002_add_email.sql")) {
		t.Errorf("diff: %s", out.String())
	}
	out.Reset()
	if code := app.Main(ctx, []string{"--help"}); code != cli.ExitOK || !strings.HasPrefix(out.String(), "myapp: ") {
		t.Errorf("--help: exit %d %s", code, out.String())
	}
}

type Item struct {
	ID    int64  `db:"id,pk"`
	Title string `db:"title"`
}

type ItemV2 struct {
	ID    int64   `db:"id,pk"`
	Title string  `db:"title"`
	Note  *string `db:"note"`
}

// The default diff is autogen's: models → diff → migrate up → diff writes
// nothing; a field added to the model → the next migration adds it.
func TestDefaultDiffRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmp := t.TempDir()
	url := "sqlite:///" + filepath.Join(tmp, "app.db")
	dir := filepath.Join(tmp, "migrations")
	model := any(Item{})
	var out, errb bytes.Buffer
	app := &cli.App{
		Registry: func(ctx context.Context, cfg cli.Config) (*registry.Registry, error) {
			reg, err := registry.New(nil, cfg.Registry(), registry.WithLogger(cfg.Logger))
			if err != nil {
				return nil, err
			}
			_, err = reg.RegisterModel(ctx, model, models.Name("Item"))
			return reg, err
		},
		Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			switch k {
			case "DBACTOR_DATABASE":
				return url
			case "DBACTOR_MIGRATIONS":
				return dir
			}
			return ""
		},
	}
	run := func(want int, args ...string) string {
		t.Helper()
		out.Reset()
		errb.Reset()
		if code := app.Main(ctx, args); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out.String(), errb.String())
		}
		return out.String()
	}
	got := run(cli.ExitOK, "diff", "--name", "items")
	require.Contains(t, got, "wrote "+filepath.Join(dir, "default", "00001_items.sql"))
	run(cli.ExitOK, "migrate", "up")
	require.Contains(t, run(cli.ExitOK, "diff"), "no changes")

	model = ItemV2{}
	require.Contains(t, run(cli.ExitPending, "diff", "--name", "note", "--check"), "00002_note.sql")
	body, err := os.ReadFile(filepath.Join(dir, "default", "00002_note.sql"))
	require.NoError(t, err)
	require.Contains(t, strings.ToLower(string(body)), "note")
	run(cli.ExitOK, "migrate", "up")
	require.Contains(t, run(cli.ExitOK, "diff"), "no changes")
	require.Contains(t, run(cli.ExitOK, "migrate", "status"), "default")
}
