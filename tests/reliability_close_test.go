package tests

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// e. A storm of Connect / Disconnect / Status calls — registry-wide and per
// database — while two Closes run: every call returns a result or a typed
// error (ErrClosed once the registry closes), none hangs or panics; after
// Close every call fails fast with ErrClosed, every pool the storm saw is
// closed, and no goroutine is left.
func TestReliabilityCloseStorm(t *testing.T) {
	s := newScenario(t, "close-storm")
	pg := testdb.NewPostgresDatabase(t)
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: withParams(t, pg, "application_name", appName("storm_main")),
		Extra: map[string]string{
			"pg2":    withParams(t, pg, "application_name", appName("storm_pg2")),
			"lite_a": sqliteURL(t, "lite_a"),
			"lite_b": sqliteURL(t, "lite_b"),
		},
	})
	dbs := reg.Databases()
	names := []string{"", "lite_a", "lite_b", "pg2"}

	var (
		pools       sync.Map // *pgxpool.Pool and *sql.DB handed out during the storm
		ops         atomic.Int64
		enough      = make(chan struct{})
		closeDone   atomic.Bool // Close has returned
		stop        = make(chan struct{})
		notClosed   atomic.Int64 // calls after Close that did not fail with ErrClosed
		notClosedEx atomic.Value
	)
	note := func(db *registry.Database) {
		if p := db.Pool(); p != nil {
			pools.Store(p, db.Name())
		}
		if d := db.DB(); d != nil {
			pools.Store(d, db.Name())
		}
	}
	const n, limit = 64, 30 * time.Second
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				after := closeDone.Load()
				db := dbs[(g+i)%len(dbs)]
				var err error
				switch (g + i) % 5 {
				case 0:
					if err = s.do("reg.Connect", limit, registryTyped, reg.Connect); err == nil {
						note(db)
						err = s.do("reg.Disconnect", limit, registryTyped, reg.Disconnect)
					}
				case 1, 2:
					if err = s.do("db.Connect", limit, registryTyped, connectDB(db)); err == nil {
						note(db)
						err = s.do("db.Disconnect", limit, registryTyped, func(ctx context.Context) error {
							_, err := db.Disconnect(ctx)
							return err
						})
					}
				case 3:
					err = s.do("db.Status", limit, registryTyped, func(ctx context.Context) error {
						_, err := db.Status(ctx)
						return err
					})
				case 4:
					err = s.do("reg.Extra.Status", limit, registryTyped, func(ctx context.Context) error {
						x, err := reg.Extra(names[1+(g+i)%3])
						if err != nil {
							return err
						}
						_, err = x.Status(ctx)
						return err
					})
				}
				if after && !errors.Is(err, registry.ErrClosed) {
					notClosed.Add(1)
					notClosedEx.Store(fmt.Sprintf("%v", err))
				}
				if ops.Add(1) == 2000 {
					close(enough)
				}
				if after {
					return // one call after Close is enough
				}
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		waitGroup(t, &wg, 2*time.Minute, "storm goroutines")
	})
	timer := time.NewTimer(2 * time.Minute)
	select {
	case <-enough:
		timer.Stop()
	case <-timer.C:
		t.Fatalf("the storm made only %d calls in 2 minutes", ops.Load())
	}

	s.fault(1) // Close in the middle of the storm (twice at once)
	parallel(t, 2, func(int) {
		if err := s.do("reg.Close", time.Minute, registryTyped, reg.Close); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	closeDone.Store(true)
	waitGroup(t, &wg, 2*time.Minute, "storm goroutines")
	close(stop)
	require.Zero(t, notClosed.Load(), "a call after Close did not fail with ErrClosed: %v", notClosedEx.Load())

	// After Close: fast ErrClosed everywhere, every handle gone and closed.
	start := time.Now()
	requireClosed := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, registry.ErrClosed) {
			s.countsWrong.Store(true)
		}
		require.ErrorIs(t, err, registry.ErrClosed, what)
	}
	requireClosed("reg.Connect", s.do("reg.Connect after Close", limit, registryTyped, reg.Connect))
	requireClosed("reg.Disconnect", s.do("reg.Disconnect after Close", limit, registryTyped, reg.Disconnect))
	s.countsChecked.Store(true)
	for _, db := range dbs {
		if db.DB() != nil || db.Pool() != nil {
			s.countsWrong.Store(true)
		}
		require.Nil(t, db.DB(), "%s: no *sql.DB after Close", db)
		require.Nil(t, db.Pool(), "%s: no pool after Close", db)
		requireClosed(db.String()+" Status", s.do("db.Status after Close", limit, registryTyped, func(ctx context.Context) error {
			_, err := db.Status(ctx)
			return err
		}))
		requireClosed(db.String()+" Connect", s.do("db.Connect after Close", limit, registryTyped, connectDB(db)))
	}
	require.Less(t, time.Since(start), time.Second, "calls after Close fail fast")

	ctx := bounded(t, 30*time.Second)
	seen := 0
	pools.Range(func(k, v any) bool {
		seen++
		var err error
		switch h := k.(type) {
		case *pgxpool.Pool:
			err = h.Ping(ctx)
		case *sql.DB:
			err = h.PingContext(ctx)
		}
		if err == nil {
			s.countsWrong.Store(true)
			t.Errorf("a %T of %q handed out during the storm is still open after Close", k, v)
		}
		return true
	})
	t.Logf("%d handles handed out during the storm, all closed", seen)
	require.Positive(t, seen)
	s.finish()
}
