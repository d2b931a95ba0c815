package migrate_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/migrate"
	"github.com/dbactor/dbactor/registry"
)

var tenants = []string{"tenant_a", "tenant_b", "tenant_c"}

func file(up, down string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("-- +goose Up\n" + up + "\n-- +goose Down\n" + down + "\n")}
}

// tree is the migrations of the tests: two for the main database, one for
// the extra "analytics", two for every tenant of the main database.
func tree() fstest.MapFS {
	return fstest.MapFS{
		"README.md":                         {Data: []byte("ignored")},
		"default/00001_users.sql":           file("CREATE TABLE users (id integer PRIMARY KEY, name text);", "DROP TABLE users;"),
		"default/00002_email.sql":           file("ALTER TABLE users ADD COLUMN email text;", "ALTER TABLE users DROP COLUMN email;"),
		"analytics/00001_events.sql":        file("CREATE TABLE events (id integer PRIMARY KEY);", "DROP TABLE events;"),
		"default/tenants/00001_orders.sql":  file("CREATE TABLE orders (id integer PRIMARY KEY, total integer);", "DROP TABLE orders;"),
		"default/tenants/00002_blocker.sql": file("ALTER TABLE orders ADD COLUMN note text;\nCREATE TABLE blocker (id integer);", "DROP TABLE blocker;\nALTER TABLE orders DROP COLUMN note;"),
	}
}

type dialect struct {
	name string
	// urls returns the main and the extra database's URLs.
	urls func(t *testing.T) (string, string)
}

func dialects() []dialect {
	return []dialect{
		{"sqlite", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			return "sqlite:///" + filepath.Join(dir, "app.db"), "sqlite:///" + filepath.Join(dir, "analytics.db")
		}},
		{"postgres", func(t *testing.T) (string, string) {
			return testdb.NewPostgresDatabase(t), testdb.NewPostgresDatabase(t)
		}},
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newRegistry(t *testing.T, main, extra string, opts ...registry.Option) *registry.Registry {
	t.Helper()
	reg, err := registry.New(nil, registry.Config{Database: main, Extra: map[string]string{"analytics": extra}},
		append([]registry.Option{registry.WithLogger(nil)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return reg
}

func createTenants(t *testing.T, ctx context.Context, reg *registry.Registry, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := reg.CreateSchema(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}

// result finds the result of a set ("default", "default/tenant_a", …).
func result(t *testing.T, rep *migrate.Report, name string) migrate.Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Name() == name {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", name, rep.Results)
	return migrate.Result{}
}

func versions(ms []migrate.Migration) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

// columns lists a table's columns in a schema ("" = the default one).
func columns(t *testing.T, ctx context.Context, reg *registry.Registry, schema, table string) []string {
	t.Helper()
	db := reg.Database()
	var q string
	var args []any
	if db.Dialect() == client.Postgres {
		if schema == "" {
			schema = "public"
		}
		q, args = `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY column_name`, []any{schema, table}
	} else {
		if schema == "" {
			schema = "main"
		}
		q, args = `SELECT name FROM pragma_table_info(?, ?) ORDER BY name`, []any{table, schema}
	}
	if _, err := db.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Disconnect(ctx)
	rows, err := db.DB().QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUpDownStatus(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			reg := newRegistry(t, main, extra)
			createTenants(t, ctx, reg, tenants...)
			m, err := migrate.New(reg, tree())
			if err != nil {
				t.Fatal(err)
			}

			// Status before anything: every migration pending, nothing written.
			st, err := m.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(st.Results), 5; got != want {
				t.Fatalf("status: %d results, want %d (%+v)", got, want, st.Results)
			}
			if st.Pending() != 2+1+3*2 {
				t.Fatalf("status: %d pending, want 9", st.Pending())
			}

			rep, err := m.Up(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"default", "analytics", "default/tenant_a", "default/tenant_b", "default/tenant_c"} {
				r := result(t, rep, name)
				if r.Err != nil || len(r.Pending()) != 0 || r.Before != 0 {
					t.Errorf("%s: %+v", name, r)
				}
			}
			if v := result(t, rep, "default").Version; v != 2 {
				t.Errorf("default at version %d, want 2", v)
			}
			if got := versions(result(t, rep, "default/tenant_b").Ran); !slices.Equal(got, []int64{1, 2}) {
				t.Errorf("tenant_b ran %v", got)
			}
			if got := columns(t, ctx, reg, "tenant_b", "orders"); !slices.Equal(got, []string{"id", "note", "total"}) {
				t.Errorf("tenant_b.orders columns %v", got)
			}
			if got := columns(t, ctx, reg, "", "users"); !slices.Equal(got, []string{"email", "id", "name"}) {
				t.Errorf("users columns %v", got)
			}
			// The tenant tables are in the tenants only, not in main.
			if got := columns(t, ctx, reg, "", "orders"); len(got) != 0 {
				t.Errorf("orders in the main schema: %v", got)
			}

			// Up again: nothing to do.
			rep, err = m.Up(ctx)
			if err != nil || rep.Pending() != 0 {
				t.Fatal(rep, err)
			}
			for _, r := range rep.Results {
				if len(r.Ran) != 0 {
					t.Errorf("%s ran %v again", r.Name(), r.Ran)
				}
			}

			// Down: the latest migration of each set.
			rep, err = m.Down(ctx, migrate.Tenants("tenant_a"))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(rep.Results); got != 3 {
				t.Fatalf("down with Tenants(tenant_a): %d results", got)
			}
			if r := result(t, rep, "default/tenant_a"); r.Version != 1 || !slices.Equal(versions(r.Ran), []int64{2}) {
				t.Errorf("tenant_a after down: %+v", r)
			}
			if r := result(t, rep, "analytics"); r.Version != 0 {
				t.Errorf("analytics after down: %+v", r)
			}
			if got := columns(t, ctx, reg, "tenant_a", "orders"); !slices.Equal(got, []string{"id", "total"}) {
				t.Errorf("tenant_a.orders columns after down %v", got)
			}

			st, err = m.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r := result(t, st, "default/tenant_c"); r.Version != 2 {
				t.Errorf("tenant_c status %+v", r)
			}
			if r := result(t, st, "default/tenant_a"); !slices.Equal(versions(r.Pending()), []int64{2}) {
				t.Errorf("tenant_a status %+v", r)
			}

			// Down to 0 everywhere.
			if _, err := m.Down(ctx, migrate.To(0)); err != nil {
				t.Fatal(err)
			}
			st, err = m.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Pending() != 9 {
				t.Errorf("after down to 0: %d pending, want 9", st.Pending())
			}
		})
	}
}

func TestFailingTenant(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			reg := newRegistry(t, main, extra)
			createTenants(t, ctx, reg, tenants...)
			// tenant_b already has the table 00002 creates: it fails there.
			q, err := registry.QualifiedTable("tenant_b", "blocker")
			if err != nil {
				t.Fatal(err)
			}
			if err := registry.Run(ctx, reg, func(ctx context.Context) error {
				_, err := reg.Database().DB().ExecContext(ctx, "CREATE TABLE "+q+" (id integer)")
				return err
			}); err != nil {
				t.Fatal(err)
			}

			rep, err := migrate.Up(ctx, reg, tree())
			var me *migrate.MigrationError
			if !errors.As(err, &me) || !errors.Is(err, migrate.ErrMigration) {
				t.Fatalf("err = %v, want a *MigrationError", err)
			}
			if me.Database != "" || me.Schema != "tenant_b" || me.Version != 2 || me.Source != "00002_blocker.sql" || me.Op != migrate.OpUp {
				t.Errorf("MigrationError %+v", me)
			}
			for _, name := range []string{"default", "analytics", "default/tenant_a", "default/tenant_c"} {
				if r := result(t, rep, name); r.Err != nil || len(r.Pending()) != 0 {
					t.Errorf("%s: %+v", name, r)
				}
			}
			b := result(t, rep, "default/tenant_b")
			if b.Err == nil || b.Version != 1 || !slices.Equal(versions(b.Ran), []int64{1}) || !slices.Equal(versions(b.Pending()), []int64{2}) {
				t.Errorf("tenant_b: %+v", b)
			}
			// Nothing half-applied: 00002's ALTER was rolled back with it.
			if got := columns(t, ctx, reg, "tenant_b", "orders"); !slices.Equal(got, []string{"id", "total"}) {
				t.Errorf("tenant_b.orders columns %v: half-applied", got)
			}
			if got := columns(t, ctx, reg, "tenant_c", "orders"); !slices.Equal(got, []string{"id", "note", "total"}) {
				t.Errorf("tenant_c.orders columns %v", got)
			}
			if len(rep.Results) != 5 {
				t.Errorf("%d results, want 5", len(rep.Results))
			}

			// StopOnError: the sets after a failure are reported, not attempted.
			rep, err = migrate.Up(ctx, reg, tree(), migrate.StopOnError(), migrate.Tenants("tenant_b", "tenant_c", "nope"))
			if !errors.As(err, &me) {
				t.Fatal(err)
			}
			if r := result(t, rep, "default/tenant_c"); !r.Skipped {
				t.Errorf("tenant_c not skipped: %+v", r)
			}
			if r := result(t, rep, "default/nope"); !errors.Is(r.Err, migrate.ErrUnknownSchema) {
				t.Errorf("nope: %+v", r)
			}
		})
	}
}

func TestTargetAndDryRun(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			reg := newRegistry(t, main, extra)
			createTenants(t, ctx, reg, "tenant_a")
			m, err := migrate.New(reg, tree())
			if err != nil {
				t.Fatal(err)
			}
			// Dry run: reports, runs nothing, creates no version table.
			rep, err := m.Up(ctx, migrate.DryRun())
			if err != nil {
				t.Fatal(err)
			}
			if !rep.DryRun || !slices.Equal(versions(result(t, rep, "default").Ran), []int64{1, 2}) {
				t.Fatalf("dry run: %+v", rep.Results)
			}
			if got := columns(t, ctx, reg, "", migrate.DefaultVersionTable); len(got) != 0 {
				t.Fatalf("dry run created the version table: %v", got)
			}
			// To(1).
			rep, err = m.Up(ctx, migrate.To(1))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				if r.Version != 1 {
					t.Errorf("%s at %d after To(1)", r.Name(), r.Version)
				}
			}
			if got := columns(t, ctx, reg, "", "users"); !slices.Equal(got, []string{"id", "name"}) {
				t.Errorf("users after To(1): %v", got)
			}
			// Dry run of Down To(0): what would be rolled back.
			rep, err = m.Down(ctx, migrate.To(0), migrate.DryRun(), migrate.Databases("analytics"))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != 1 || !slices.Equal(versions(rep.Results[0].Ran), []int64{1}) {
				t.Errorf("down dry run: %+v", rep.Results)
			}
			st, _ := m.Status(ctx, migrate.Databases("analytics"))
			if st.Results[0].Version != 1 {
				t.Errorf("the dry run rolled back: %+v", st.Results[0])
			}
			// Only the database's own sets.
			rep, err = m.Up(ctx, migrate.NoTenants())
			if err != nil || len(rep.Results) != 2 {
				t.Fatalf("NoTenants: %v %+v", err, rep)
			}
		})
	}
}

// Several instances starting at once: each migration is applied once.
func TestConcurrentInstances(t *testing.T) {
	fsys := fstest.MapFS{
		"default/00001_hits.sql":         file("CREATE TABLE hits (n integer);", "DROP TABLE hits;"),
		"default/00002_hit.sql":          file("INSERT INTO hits VALUES (1);", "DELETE FROM hits;"),
		"default/tenants/00001_hits.sql": file("CREATE TABLE hits (n integer);", "DROP TABLE hits;"),
		"default/tenants/00002_hit.sql":  file("INSERT INTO hits VALUES (1);", "DELETE FROM hits;"),
		"analytics/00001_hits.sql":       file("CREATE TABLE hits (n integer);", "DROP TABLE hits;"),
		"analytics/00002_hit.sql":        file("INSERT INTO hits VALUES (1);", "DELETE FROM hits;"),
	}
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			const n = 4
			regs := make([]*registry.Registry, n)
			for i := range regs {
				regs[i] = newRegistry(t, main, extra)
			}
			createTenants(t, ctx, regs[0], "tenant_a", "tenant_b")
			reps := make([]*migrate.Report, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range regs {
				wg.Go(func() { reps[i], errs[i] = migrate.Up(ctx, regs[i], fsys, migrate.Tenants("tenant_a", "tenant_b")) })
			}
			wg.Wait()
			ran := map[string]int{}
			for i := range reps {
				if errs[i] != nil {
					t.Fatalf("instance %d: %v", i, errs[i])
				}
				for _, r := range reps[i].Results {
					ran[r.Name()] += len(r.Ran)
				}
			}
			for _, name := range []string{"default", "analytics", "default/tenant_a", "default/tenant_b"} {
				if ran[name] != 2 {
					t.Errorf("%s: %d migrations ran over %d instances, want 2", name, ran[name], n)
				}
			}
			for _, schema := range []string{"", "tenant_a", "tenant_b"} {
				table := "hits"
				if schema != "" {
					table, _ = registry.QualifiedTable(schema, "hits")
				}
				var count int
				if err := registry.Run(ctx, regs[0], func(ctx context.Context) error {
					return regs[0].Database().DB().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&count)
				}); err != nil {
					t.Fatal(err)
				}
				if count != 1 {
					t.Errorf("%s: %d rows, want 1", table, count)
				}
			}
		})
	}
}

func TestLayoutErrors(t *testing.T) {
	ctx := ctxFor(t)
	dir := t.TempDir()
	reg := newRegistry(t, "sqlite:///"+filepath.Join(dir, "a.db"), "sqlite:///"+filepath.Join(dir, "b.db"))
	_, err := migrate.New(reg, fstest.MapFS{"analytcs/00001_x.sql": file("SELECT 1;", "SELECT 1;")})
	if !errors.Is(err, migrate.ErrLayout) {
		t.Errorf("typo'd directory: %v", err)
	}
	_, err = migrate.Up(ctx, reg, tree(), migrate.To(-1))
	if !errors.Is(err, migrate.ErrInvalidArgument) {
		t.Errorf("To(-1): %v", err)
	}
	_, err = migrate.Up(ctx, reg, tree(), migrate.VersionTable("x; DROP TABLE users"))
	if !errors.Is(err, migrate.ErrInvalidArgument) {
		t.Errorf("bad version table: %v", err)
	}
	_, err = migrate.Up(ctx, reg, tree(), migrate.Databases("nope"))
	if !errors.Is(err, migrate.ErrInvalidArgument) {
		t.Errorf("unknown database: %v", err)
	}
}

// A run does not need two connections of the application's pool: with a
// pool of one, the lock's connection does not deadlock against goose's.
func TestPostgresPoolOfOne(t *testing.T) {
	ctx := ctxFor(t)
	url := testdb.NewPostgresDatabase(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	reg := newRegistry(t, url+sep+"pool_size=1", "sqlite:///"+filepath.Join(t.TempDir(), "a.db"))
	if err := reg.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer reg.Disconnect(ctx)
	createTenants(t, ctx, reg, "tenant_a")
	rep, err := migrate.Up(ctx, reg, tree(), migrate.Databases("default"))
	if err != nil || rep.Pending() != 0 {
		t.Fatalf("%v %+v", err, rep)
	}
}

// Tenant names that need quoting (spaces, capitals, quotes) are just names,
// on both dialects.
func TestOddTenantNames(t *testing.T) {
	odd := []string{"Acme Corp", `o"brien`}
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxFor(t)
			main, extra := d.urls(t)
			reg := newRegistry(t, main, extra)
			createTenants(t, ctx, reg, odd...)
			rep, err := migrate.Up(ctx, reg, tree(), migrate.Databases("default"))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range odd {
				if r := result(t, rep, "default/"+s); r.Version != 2 {
					t.Errorf("%s: %+v", s, r)
				}
				if got := columns(t, ctx, reg, s, "orders"); !slices.Equal(got, []string{"id", "note", "total"}) {
					t.Errorf("%s.orders columns %v", s, got)
				}
			}
			rep, err = migrate.Down(ctx, reg, tree(), migrate.To(0), migrate.Tenants(odd[1]), migrate.Databases("default"))
			if err != nil || result(t, rep, "default/"+odd[1]).Version != 0 {
				t.Fatalf("%v %+v", err, rep)
			}
		})
	}
}
