package registry_test

import (
	"log/slog"
	"strings"
	"testing"

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
		require.NoError(t, reg.Disconnect(ctx))

		out := logs.String()
		require.Contains(t, out, `msg="dbactor: sql"`)
		require.Contains(t, out, `sql="`+query+`" args=1`)
		require.Contains(t, out, "echo_missing_table")
		require.Contains(t, out, "error=")
		require.NotContains(t, out, "arg-value-never-logged")
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
