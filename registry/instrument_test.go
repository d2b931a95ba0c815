package registry_test

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/registry"
)

type countingTracer struct{ n atomic.Int32 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) { c.n.Add(1) }

// TestInstrumentation: the hooks see every pool and statement, next to the
// SQL echo, and are told when a pool opens and before it closes.
func TestInstrumentation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		raw := b.url(t)
		sep := "?"
		if strings.Contains(raw, "?") {
			sep = "&"
		}
		var mu sync.Mutex
		var events []string
		var statements []string
		tracer := &countingTracer{}
		var logs lockedBuffer
		sys := newSystem(t)
		reg := newRegistry(t, sys, registry.Config{Database: raw + sep + "echo=true"},
			registry.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
			registry.WithInstrumentation(actors.Instrumentation{
				QueryTracer: func(string) pgx.QueryTracer { return tracer },
				Statement: func(_ context.Context, database, query string, args int, _ time.Duration, _ error) {
					mu.Lock()
					defer mu.Unlock()
					statements = append(statements, query)
				},
				Opened: func(database string, pool *pgxpool.Pool, db *sql.DB) func() {
					mu.Lock()
					defer mu.Unlock()
					require.NotNil(t, db)
					require.Equal(t, b.name == "postgres", pool != nil)
					events = append(events, "opened")
					return func() {
						mu.Lock()
						defer mu.Unlock()
						events = append(events, "closing")
					}
				},
			}))
		ctx := testCtx(t)
		require.NoError(t, reg.Connect(ctx))
		_, err := reg.Database().DB().ExecContext(ctx, "SELECT 1")
		require.NoError(t, err)
		require.NoError(t, reg.Disconnect(ctx))
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []string{"opened", "closing"}, events)
		if b.name == "postgres" {
			require.Positive(t, tracer.n.Load())
		} else {
			require.Contains(t, statements, "SELECT 1")
		}
		require.Contains(t, logs.String(), `sql="SELECT 1"`, "the echo still runs")
	})
}
