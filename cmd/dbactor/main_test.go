package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/migrate/cli"
	"github.com/dbactor/dbactor/registry"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dbactor-cli-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "dbactor")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	defer os.RemoveAll(dir)
	testdb.VerifyNoLeaks(m)
}

type run struct {
	code           int
	stdout, stderr string
}

// dbactor runs the binary with args and a clean environment plus env.
func dbactor(t *testing.T, env []string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = t.TempDir() // relative paths (sqlite:///x.db, the migrations directory) land there
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{code, out.String(), errb.String()}
}

func expect(t *testing.T, r run, code int, contains string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout+r.stderr, contains) {
		t.Errorf("exit %d (want %d), want output containing %q\nstdout:\n%s\nstderr:\n%s", r.code, code, contains, r.stdout, r.stderr)
	}
}

func TestUsage(t *testing.T) {
	expect(t, dbactor(t, nil, "--help"), cli.ExitOK, "migrate up")
	for _, sub := range [][]string{{"migrate", "up"}, {"migrate", "down"}, {"migrate", "status"}, {"migrate", "create"}, {"diff"}} {
		r := dbactor(t, nil, append(sub, "--help")...)
		expect(t, r, cli.ExitOK, "Usage: dbactor "+strings.Join(sub, " "))
	}
	expect(t, dbactor(t, nil), cli.ExitUsage, "Usage")
	expect(t, dbactor(t, nil, "migrate", "sideways"), cli.ExitUsage, `unknown command "migrate sideways"`)
	expect(t, dbactor(t, nil, "migrate", "up", "--bogus"), cli.ExitUsage, "flag provided but not defined: -bogus")
	expect(t, dbactor(t, nil, "migrate", "status"), cli.ExitUsage, "DBACTOR_DATABASE")
	expect(t, dbactor(t, nil, "migrate", "create"), cli.ExitUsage, "NAME")
	expect(t, dbactor(t, []string{"DBACTOR_DATABASE=sqlite:///x.db"}, "diff"), cli.ExitOK, "no changes") // no models here
	r := dbactor(t, []string{"DBACTOR_DATABASE=sqlite:///x.db"}, "migrate", "up", "--extra", "bad:secret@host")
	expect(t, r, cli.ExitUsage, "want name=URL")
	if strings.Contains(r.stderr, "secret") {
		t.Errorf("a password in the error: %s", r.stderr)
	}
	expect(t, dbactor(t, []string{"DBACTOR_DATABASE=sqlite:///x.db", "DBACTOR_MIGRATIONS=" + t.TempDir() + "/none"}, "migrate", "up"), cli.ExitConfig, "not a directory")
}

func write(t *testing.T, path, up, down string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("-- +goose Up\n"+up+"\n-- +goose Down\n"+down+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// createSchemas makes tenant schemas through a registry of the test's own.
func createSchemas(t *testing.T, url string, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := registry.New(nil, registry.Config{Database: url}, registry.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	for _, n := range names {
		if err := reg.CreateSchema(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSQLite(t *testing.T) {
	dir := t.TempDir()
	migrations := filepath.Join(dir, "migrations")
	url := "sqlite:///" + filepath.Join(dir, "app.db")
	extra := "sqlite:///" + filepath.Join(dir, "analytics.db")
	env := []string{"DBACTOR_DATABASE=" + url, "DBACTOR_MIGRATIONS=" + migrations}
	createSchemas(t, url, "acme", "globex")

	// create numbers the files; the test fills them in.
	r := dbactor(t, env, "migrate", "create", "users")
	expect(t, r, cli.ExitOK, filepath.Join("default", "00001_users.sql"))
	write(t, strings.TrimSpace(strings.TrimPrefix(r.stdout, "created ")), "CREATE TABLE users (id integer PRIMARY KEY);", "DROP TABLE users;")
	r = dbactor(t, env, "migrate", "create", "--db", "analytics", "events")
	write(t, strings.TrimSpace(strings.TrimPrefix(r.stdout, "created ")), "CREATE TABLE events (id integer PRIMARY KEY);", "DROP TABLE events;")
	r = dbactor(t, env, "migrate", "create", "--tenants", "orders")
	expect(t, r, cli.ExitOK, filepath.Join("default", "tenants", "00001_orders.sql"))
	write(t, strings.TrimSpace(strings.TrimPrefix(r.stdout, "created ")), "CREATE TABLE orders (id integer PRIMARY KEY);", "DROP TABLE orders;")

	// Without the extra, the analytics directory is a layout error.
	expect(t, dbactor(t, env, "migrate", "status"), cli.ExitConfig, `directory "analytics"`)

	env = append(env, "DBACTOR_EXTRA=analytics="+extra)
	expect(t, dbactor(t, env, "migrate", "status", "--check"), cli.ExitPending, "default/acme: version 0, 0 applied, 1 pending")
	expect(t, dbactor(t, env, "migrate", "up", "--dry-run"), cli.ExitOK, "would apply 00001_orders.sql")
	r = dbactor(t, env, "migrate", "up")
	expect(t, r, cli.ExitOK, "default/globex: version 0 -> 1, applied 1, 0 pending")
	expect(t, r, cli.ExitOK, "analytics: version 0 -> 1")
	r = dbactor(t, env, "migrate", "status", "--json", "--check")
	expect(t, r, cli.ExitOK, `"op": "status"`)
	var rep migrate.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Results) != 4 {
		t.Fatalf("status --json: %v %s", err, r.stdout)
	}
	for _, res := range rep.Results {
		if res.Version != 1 {
			t.Errorf("%s at version %d", res.Name(), res.Version)
		}
	}

	// A failing migration in one tenant: exit 1, the others applied.
	write(t, filepath.Join(migrations, "default", "tenants", "00002_fail.sql"), "INSERT INTO orders VALUES (1);\nCREATE TABLE orders (id integer);", "SELECT 1;")
	r = dbactor(t, env, "migrate", "up", "--tenant", "acme")
	expect(t, r, cli.ExitFailed, `tenant "acme", version 2 (00002_fail.sql)`)
	expect(t, r, cli.ExitFailed, "default/acme: version 1 -> 1, applied 0, 1 pending, FAILED")
	if err := os.Remove(filepath.Join(migrations, "default", "tenants", "00002_fail.sql")); err != nil {
		t.Fatal(err)
	}

	expect(t, dbactor(t, env, "migrate", "up", "--db", "nope"), cli.ExitUsage, `Databases("nope")`)
	expect(t, dbactor(t, env, "migrate", "down", "--to", "0"), cli.ExitOK, "rolled back 00001_users.sql")
	expect(t, dbactor(t, env, "migrate", "status", "--check"), cli.ExitPending, "4 migrations pending")
}

func TestUnreachable(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "default"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "default", "00001_x.sql"), "SELECT 1;", "SELECT 1;")
	r := dbactor(t, []string{"DBACTOR_MIGRATIONS=" + dir}, "migrate", "up",
		"--database", "postgres://app:hunter2@"+testdb.ClosedPort(t)+"/app?sslmode=disable&connect_timeout=5")
	expect(t, r, cli.ExitConfig, "connect")
	if strings.Contains(r.stdout+r.stderr, "hunter2") {
		t.Errorf("the password in the output:\n%s%s", r.stdout, r.stderr)
	}
}

// The shared PostgreSQL: only tenant sets, in schemas of unique names,
// dropped afterwards (nothing touches the database's own schema).
func TestPostgres(t *testing.T) {
	url := testdb.PostgresDSN(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	t1, t2 := "cli_a_"+suffix, "cli_b_"+suffix
	createSchemas(t, url, t1, t2)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		for _, s := range []string{t1, t2} {
			if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
				t.Error(err)
			}
		}
	})
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "default", "tenants"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "default", "tenants", "00001_orders.sql"), "CREATE TABLE orders (id integer PRIMARY KEY);", "DROP TABLE orders;")
	write(t, filepath.Join(dir, "default", "tenants", "00002_note.sql"), "ALTER TABLE orders ADD COLUMN note text;", "ALTER TABLE orders DROP COLUMN note;")
	env := []string{"DBACTOR_DATABASE=" + url, "DBACTOR_MIGRATIONS=" + dir, "DBACTOR_TENANTS=" + t1 + "," + t2}

	expect(t, dbactor(t, env, "migrate", "status", "--check"), cli.ExitPending, "default/"+t1+": version 0, 0 applied, 2 pending")
	expect(t, dbactor(t, env, "migrate", "up", "--to", "1"), cli.ExitOK, "default/"+t2+": version 0 -> 1, applied 1, 1 pending")
	expect(t, dbactor(t, env, "migrate", "up"), cli.ExitOK, "default/"+t1+": version 1 -> 2, applied 1, 0 pending")
	expect(t, dbactor(t, env, "migrate", "status", "--check"), cli.ExitOK, "applied    00002_note.sql")
	expect(t, dbactor(t, env, "migrate", "down", "--tenant", t2), cli.ExitOK, "default/"+t2+": version 2 -> 1, rolled back 1")
	expect(t, dbactor(t, env, "migrate", "up", "--tenant", "no_such_"+suffix), cli.ExitFailed, "no such tenant schema")
}
