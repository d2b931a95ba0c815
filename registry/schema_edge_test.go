package registry_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

type MainOnly struct {
	ID int64 `db:"id,pk"`
}

type SharedOnly struct {
	ID int64 `db:"id,pk"`
}

// A database shared from another registry is known by this registry's
// name: its models, its errors.
func TestSchemaOnSharedDatabase(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		sys := newSystem(t)
		owner := newRegistry(t, sys, registry.Config{Database: b.url(t)})
		reg := newRegistry(t, sys, registry.Config{Database: b.url(t)}, registry.WithExtraDatabase("shared", owner.Database()))
		_, err := reg.RegisterModel(ctx, MainOnly{})
		require.NoError(t, err)
		so, err := reg.RegisterModel(ctx, SharedOnly{}, models.Database("shared"))
		require.NoError(t, err)

		require.NoError(t, reg.CreateAll(ctx, "shared"))
		require.NoError(t, owner.Connect(ctx))
		var n int
		require.NoError(t, owner.Database().DB().QueryRowContext(ctx, "SELECT count(*) FROM "+qt(t, so, "")).Scan(&n))
		require.NoError(t, owner.Disconnect(ctx))

		require.NoError(t, reg.CreateSchema(ctx, "s", registry.OnDatabases("shared")))
		requireSchemaError(t, reg.CreateSchema(ctx, "s", registry.OnDatabases("shared")), "shared", "already exists")
		list, err := owner.Schemas(ctx, "")
		require.NoError(t, err)
		require.Contains(t, list, "s")
		requireCount(t, owner.Database(), 0, false)
	})
}

// An in-memory SQLite database that is not connected would lose what a
// schema call creates at once: refused; connected, it works.
func TestSchemaOnMemoryDatabase(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: "sqlite:///:memory:"})
	u, err := reg.RegisterModel(ctx, User{})
	require.NoError(t, err)
	require.ErrorIs(t, reg.CreateAll(ctx), registry.ErrUnsupported)
	require.ErrorIs(t, reg.CreateSchema(ctx, "t"), registry.ErrUnsupported)
	requireCount(t, reg.Database(), 0, false)

	require.NoError(t, reg.Connect(ctx))
	require.NoError(t, reg.CreateAll(ctx))
	require.NoError(t, reg.CreateSchema(ctx, "t", registry.WithModels()))
	_, err = reg.Database().DB().ExecContext(ctx, "INSERT INTO "+qt(t, u, "t")+" (name) VALUES ('x')")
	require.NoError(t, err)
	list, err := reg.Schemas(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"main", "t"}, list)
	require.NoError(t, reg.Disconnect(ctx))
}

// SQLite's limits come back as ErrUnsupported through the public API, and
// leave nothing behind.
func TestSQLiteSchemaLimits(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	require.ErrorIs(t, reg.CreateSchema(ctx, "temp"), registry.ErrUnsupported)
	for i := range 10 {
		require.NoError(t, reg.CreateSchema(ctx, fmt.Sprintf("t%d", i)))
	}
	err := reg.CreateSchema(ctx, "t10")
	require.ErrorIs(t, err, registry.ErrUnsupported)
	require.Contains(t, err.Error(), "SQLITE_MAX_ATTACHED")
	list, err := reg.Schemas(ctx, "")
	require.NoError(t, err)
	require.Len(t, list, 11)
	require.NotContains(t, list, "t10")
}

// No password in any schema error, whatever fails.
func TestSchemaErrorsHaveNoPassword(t *testing.T) {
	ctx := testCtx(t)
	const secret = "s3cr3tPW"
	url := strings.Replace(testdb.NewPostgresDatabase(t), "postgres://postgres@", "postgres://postgres:"+secret+"@", 1)
	require.Contains(t, url, secret)
	down := "postgres://app:" + secret + "@" + testdb.ClosedPort(t) + "/x?connect_timeout=1"
	reg := newRegistry(t, newSystem(t), registry.Config{Database: url, Extra: map[string]string{"down": down}})
	var errs []error
	require.NoError(t, reg.CreateSchema(ctx, "s"))
	errs = append(errs, reg.CreateSchema(ctx, "s"), reg.DropSchema(ctx, "nope"),
		reg.CreateSchema(ctx, "x", registry.OnDatabases("down")), reg.CreateAll(ctx, "down"))
	_, err := reg.Schemas(ctx, "down")
	errs = append(errs, err)
	for _, err := range errs {
		require.Error(t, err)
		require.NotContains(t, err.Error(), secret)
		require.NotContains(t, fmt.Sprintf("%+v", err), secret)
	}
}

// A caller that gives up cancels the schema work: PostgreSQL rolls it back.
func TestSchemaCallCancelled(t *testing.T) {
	ctx := testCtx(t)
	url := testdb.NewPostgresDatabase(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: url})
	require.NoError(t, reg.CreateSchema(ctx, "locked"))

	// Another session holds a lock the drop needs.
	other, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `CREATE TABLE "locked"."t" (id int)`)
	require.NoError(t, err)

	cctx, cancel := context.WithCancel(ctx)
	result := make(chan error, 1)
	go func() { result <- reg.DropSchema(cctx, "locked", registry.Cascade()) }()
	require.Eventually(t, func() bool {
		var waiting int
		_ = other.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted`).Scan(&waiting)
		return waiting > 0
	}, 10*time.Second, 5*time.Millisecond, "the drop waits for the lock")
	cancel()
	err = <-result
	require.ErrorIs(t, err, registry.ErrCanceled)
	// The drop's transaction is gone: nothing waits any more.
	require.Eventually(t, func() bool {
		var waiting int
		_ = other.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted`).Scan(&waiting)
		return waiting == 0
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, tx.Commit())
	list, err := reg.Schemas(ctx, "")
	require.NoError(t, err)
	require.Contains(t, list, "locked", "the cancelled drop did not happen")
	require.Eventually(t, func() bool { return status(t, reg.Database()).RefCount == 0 }, 10*time.Second, time.Millisecond)
}

// Concurrent CreateAll calls take turns: IF NOT EXISTS alone races on
// PostgreSQL's catalog.
func TestConcurrentCreateAll(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t), Schema: "app"})
		_, err := reg.RegisterModel(ctx, User{})
		require.NoError(t, err)
		_, err = reg.RegisterModel(ctx, Post{})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { assert.NoError(t, reg.CreateAll(ctx)) })
		}
		wg.Wait()
		requireCount(t, reg.Database(), 0, false)
	})
}
