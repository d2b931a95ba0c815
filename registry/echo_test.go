package registry_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/registry"
)

// TestEcho: echo=true in a URL logs every statement of the pool at Info,
// with the number of arguments but never their values.
func TestEcho(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		raw := b.url(t)
		sep := "?"
		if strings.Contains(raw, "?") {
			sep = "&"
		}
		var logs lockedBuffer
		sys := newSystem(t)
		reg := newRegistry(t, sys, registry.Config{Database: raw + sep + "echo=true"},
			registry.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		ctx := testCtx(t)
		require.NoError(t, reg.Connect(ctx))
		db := reg.Database()
		query := "SELECT $1"
		if b.name == "sqlite" {
			query = "SELECT ?"
		}
		var got string
		require.NoError(t, db.DB().QueryRowContext(ctx, query, "arg-value-never-logged").Scan(&got))
		_, err := db.DB().ExecContext(ctx, "SELECT * FROM echo_missing_table")
		require.Error(t, err)
		prepared := "SELECT 1 + " + strings.TrimPrefix(query, "SELECT ")
		st, err := db.DB().PrepareContext(ctx, prepared)
		require.NoError(t, err)
		for range 2 {
			var n int
			require.NoError(t, st.QueryRowContext(ctx, 2).Scan(&n))
		}
		require.NoError(t, st.Close())
		if b.name == "postgres" {
			// A data exception quotes the value: only its code is logged.
			_, err = db.DB().ExecContext(ctx, "SELECT $1::int", "card-4111111111111111")
			require.Error(t, err)
			batch := &pgx.Batch{}
			batch.Queue("SELECT 'batched-one'")
			batch.Queue("SELECT $1::text", "batched-arg-never-logged")
			require.NoError(t, db.Pool().SendBatch(ctx, batch).Close())
		}
		require.NoError(t, reg.Disconnect(ctx))

		out := logs.String()
		require.Contains(t, out, `msg="dbactor: sql"`)
		require.Contains(t, out, `sql="`+query+`" args=1`)
		require.Contains(t, out, "echo_missing_table")
		require.Contains(t, out, "error=")
		require.NotContains(t, out, "arg-value-never-logged")
		require.Equal(t, 2, strings.Count(out, `sql="`+prepared+`" args=1`), "each execution of a prepared statement")
		if b.name == "postgres" {
			require.Contains(t, out, "sqlstate=22P02")
			require.NotContains(t, out, "card-4111111111111111")
			require.Contains(t, out, "batched-one")
			require.NotContains(t, out, "batched-arg-never-logged")
		}
	})
}

// TestEchoOff: without echo nothing is logged per statement.
func TestEchoOff(t *testing.T) {
	var logs lockedBuffer
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)},
		registry.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ctx := testCtx(t)
	require.NoError(t, reg.Connect(ctx))
	_, err := reg.Database().DB().ExecContext(ctx, "SELECT 1")
	require.NoError(t, err)
	require.NoError(t, reg.Disconnect(ctx))
	require.NotContains(t, logs.String(), "dbactor: sql")
}
