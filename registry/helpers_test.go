package registry_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// backend makes database URLs of one dialect for a test.
type backend struct {
	name string
	url  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string {
		return "sqlite:///" + filepath.Join(t.TempDir(), "db.sqlite")
	}},
	{"postgres", func(t *testing.T) string { return testdb.NewPostgresDatabase(t) }},
}

// eachBackend runs f once per dialect.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newSystem is a quiet actor system for one test, with a fault injector
// of its own (faults.For(sys)): a test arms its points, or sends its actors
// a faults.Panic, without reaching any other test's actors.
func newSystem(t *testing.T) *actor.ActorSystem {
	sys := registry.NewActorSystem(nil)
	faults.Install(sys) // before anything is spawned on sys
	t.Cleanup(sys.Shutdown)
	return sys
}

// newRegistry builds a registry and closes it when the test ends.
func newRegistry(t *testing.T, sys *actor.ActorSystem, cfg registry.Config, opts ...registry.Option) *registry.Registry {
	t.Helper()
	reg, err := registry.New(sys, cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, reg.Close(ctx))
	})
	return reg
}

func status(t *testing.T, db *registry.Database) registry.Status {
	t.Helper()
	st, err := db.Status(testCtx(t))
	require.NoError(t, err)
	return st
}

// requireCount checks a database's ref count and connected state.
func requireCount(t *testing.T, db *registry.Database, count int, connected bool) {
	t.Helper()
	st := status(t, db)
	require.Equal(t, count, st.RefCount, "ref count of %s", db)
	require.Equal(t, connected, st.Connected, "connected of %s", db)
	require.Equal(t, connected, db.DB() != nil, "DB() of %s while connected=%v", db, connected)
	if db.Dialect() == client.Postgres {
		require.Equal(t, connected, db.Pool() != nil, "Pool() of %s while connected=%v", db, connected)
	} else {
		require.Nil(t, db.Pool(), "SQLite has no pgx pool")
	}
}

// ping proves a database handle really reaches the server.
func ping(t *testing.T, db *registry.Database) {
	t.Helper()
	var one int
	require.NoError(t, db.DB().QueryRowContext(testCtx(t), "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
}

func missingDirURL(t *testing.T) string {
	return "sqlite:///" + filepath.Join(t.TempDir(), "no-such-dir", "x.db") + "?mode=rw"
}

func init() {
	// Tests must not depend on the developer's libpq environment.
	for _, k := range []string{"PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE"} {
		os.Unsetenv(k)
	}
}

// qt is m's table in schema, quoted.
func qt(t *testing.T, m *models.Model, schema string) string {
	t.Helper()
	q, err := m.QualifiedTable(schema)
	require.NoError(t, err)
	return q
}
