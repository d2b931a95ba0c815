package tests

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/registry"
)

// d. 1000 goroutines × 100 connect/disconnect pairs against four databases
// (PostgreSQL main and extra, two SQLite files), some through the single
// database, some registry-wide: no error, no hang, and every count ends
// where it started. Two databases are held open throughout and take most
// pairs; the two others start at 0 and get few pairs, so their pools keep
// opening (0 → 1) and closing (1 → 0) under the storm.
func TestReliabilityConnectChurn(t *testing.T) {
	s := newScenario(t, "connect-churn")
	pg := testdb.NewPostgresDatabase(t)
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: withParams(t, pg, "application_name", appName("churn_main")),
		Extra: map[string]string{
			"pg2":    withParams(t, pg, "application_name", appName("churn_pg2")),
			"lite_a": sqliteURL(t, "lite_a"),
			"lite_b": sqliteURL(t, "lite_b"),
		},
	})
	dbs := reg.Databases() // "", "lite_a", "lite_b", "pg2"
	hot, cold := []int{0, 1}, []int{2, 3}
	ctx := bounded(t, time.Minute)
	// The main database and lite_a are held open by the test throughout.
	held := map[string]int{"": 1, "lite_a": 1, "lite_b": 0, "pg2": 0}
	for _, db := range dbs {
		for range held[db.Name()] {
			_, err := db.Connect(ctx)
			require.NoError(t, err)
		}
	}
	s.requireRefCounts(reg, held)

	const goroutines, pairs = 1000, 100
	const limit = time.Minute // per call; the mailboxes are 1000 deep
	var (
		wg        sync.WaitGroup
		nilHandle atomic.Int64 // a connect succeeded, yet DB() was nil
		opened    [4]atomic.Int64
		closed    [4]atomic.Int64
	)
	start := time.Now()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range pairs {
				// slot spreads the pair numbers g*pairs+i over 0..999.
				slot := (g*pairs + i) * 7919 % 1000
				if slot%500 == 0 { // one pair in 500 is registry-wide
					if s.do("reg.Connect", limit, registryTyped, reg.Connect) != nil {
						continue
					}
					for _, db := range dbs {
						if db.DB() == nil {
							nilHandle.Add(1)
						}
					}
					_ = s.do("reg.Disconnect", limit, registryTyped, reg.Disconnect)
					continue
				}
				// Most pairs go to the two held databases; one in 500 to a
				// cold one, whose count keeps falling to 0 and rising again.
				k := hot[(g+i)%len(hot)]
				if slot == 250 || slot == 750 {
					k = cold[slot/500]
				}
				db := dbs[k]
				var was bool
				if s.do("db.Connect", limit, registryTyped, func(ctx context.Context) (err error) {
					was, err = db.Connect(ctx)
					return err
				}) != nil {
					continue
				}
				if was {
					opened[k].Add(1)
				}
				if db.DB() == nil {
					nilHandle.Add(1)
				}
				_ = s.do("db.Disconnect", limit, registryTyped, func(ctx context.Context) (err error) {
					was, err = db.Disconnect(ctx)
					if was {
						closed[k].Add(1)
					}
					return err
				})
			}
		}()
	}
	waitGroup(t, &wg, 14*time.Minute, "connect/disconnect goroutines")
	elapsed := time.Since(start)

	require.Zero(t, s.typed.Load(), "no connect or disconnect failed")
	require.Zero(t, nilHandle.Load(), "a database is open while its count is held")
	s.requireRefCounts(reg, held)
	for k, db := range dbs {
		t.Logf("%s: opened %d times, closed %d times (plus registry-wide pairs)", db, opened[k].Load(), closed[k].Load())
		if held[db.Name()] > 0 {
			require.Zero(t, opened[k].Load(), "%s was held open throughout", db)
			require.Zero(t, closed[k].Load(), "%s was held open throughout", db)
		} else {
			require.Positive(t, opened[k].Load()+closed[k].Load(), "%s, starting at 0, opened and closed its pool", db)
		}
	}
	t.Logf("%d goroutines × %d pairs (%d calls) in %v under the race detector: %.0f calls/s",
		goroutines, pairs, s.attempted.Load(), elapsed.Round(time.Millisecond), float64(s.attempted.Load())/elapsed.Seconds())

	ctx = bounded(t, time.Minute)
	for _, db := range dbs {
		for range held[db.Name()] {
			_, err := db.Disconnect(ctx)
			require.NoError(t, err)
		}
	}
	s.requireRefCounts(reg, map[string]int{"": 0, "lite_a": 0, "lite_b": 0, "pg2": 0})
	s.finish()
}
