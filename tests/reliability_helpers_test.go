package tests

// Fault-injection ("reliability") suite: helpers shared by the
// TestReliability* scenarios. Each scenario counts its operations through a
// scenario value and ends with one figure line on stdout:
//
//	RELIABILITY|<scenario>|<faults injected>|<ops attempted>|<succeeded>|<failed with typed error>|<hung>|<counts exact yes/no>|<goroutines leaked>
//
// scripts/reliability-table.sh turns those lines into a Markdown table.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// hangMargin is how long after its context deadline an operation may still
// return before the watchdog counts it as hung.
const hangMargin = 2 * time.Second

// throttleGoroutine is Proto.Actor's dead-letter log throttle: started on a
// dead letter, it ends by itself after its interval; not ours, not a leak.
const throttleGoroutine = "github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"

// classify names the kind of a typed error, or returns ok=false for an
// error that is not typed.
type classify func(err error) (kind string, ok bool)

// scenario counts the operations of one reliability scenario and reports
// them in its figure line.
type scenario struct {
	t    *testing.T
	name string

	faults    atomic.Int64
	attempted atomic.Int64
	succeeded atomic.Int64
	typed     atomic.Int64
	untyped   atomic.Int64
	hung      atomic.Int64

	countsChecked atomic.Bool
	countsWrong   atomic.Bool

	mu      sync.Mutex
	kinds   map[string]int // typed failures by kind
	bad     []string       // untyped errors (first few)
	hungOps []string       // operations the watchdog caught (first few)
}

// newScenario starts a scenario. Call it first in the test: its cleanup,
// registered first, runs after every other cleanup (registry Close, proxy,
// cluster, databases), checks that no goroutine started during the scenario
// is left, and prints the figure line.
func newScenario(t *testing.T, name string) *scenario {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	s := &scenario{t: t, name: name, kinds: map[string]int{}}
	t.Cleanup(func() {
		if t.Skipped() {
			return
		}
		leaked := s.verifyNoLeaks(ignore)
		counts := "no"
		if s.countsChecked.Load() && !s.countsWrong.Load() {
			counts = "yes"
		}
		fmt.Printf("RELIABILITY|%s|%d|%d|%d|%d|%d|%s|%d\n", s.name,
			s.faults.Load(), s.attempted.Load(), s.succeeded.Load(), s.typed.Load(),
			s.hung.Load(), counts, leaked)
	})
	return s
}

// leakRecorder is the goleak.TestingT of verifyNoLeaks: it fails the test
// and counts the goroutines goleak reports.
type leakRecorder struct {
	t      *testing.T
	leaked int
}

func (r *leakRecorder) Error(args ...any) {
	msg := fmt.Sprint(args...)
	r.leaked += max(strings.Count(msg, "[Goroutine "), 1)
	r.t.Error(args...)
}

func (s *scenario) verifyNoLeaks(ignore goleak.Option) int {
	rec := &leakRecorder{t: s.t}
	goleak.VerifyNone(rec, goleak.IgnoreTopFunction(throttleGoroutine), ignore)
	return rec.leaked
}

// fault records n injected faults.
func (s *scenario) fault(n int) { s.faults.Add(int64(n)) }

// do runs one operation with a context bounded by limit, under a watchdog:
// an operation that has not returned limit+hangMargin after it started is
// counted as hung (and not as anything else). A failure must be typed as
// kind says; an untyped one fails the test. do returns op's error.
func (s *scenario) do(name string, limit time.Duration, kind classify, op func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	s.attempted.Add(1)
	watchdog := time.AfterFunc(limit+hangMargin, func() {
		s.hung.Add(1)
		s.mu.Lock()
		if len(s.hungOps) < 10 {
			s.hungOps = append(s.hungOps, fmt.Sprintf("%s (limit %v)", name, limit))
		}
		s.mu.Unlock()
	})
	err := op(ctx)
	if !watchdog.Stop() {
		return err // hung: counted by the watchdog
	}
	if err == nil {
		s.succeeded.Add(1)
		return nil
	}
	k, ok := kind(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.typed.Add(1)
		s.kinds[k]++
	} else {
		s.untyped.Add(1)
		if len(s.bad) < 10 {
			s.bad = append(s.bad, fmt.Sprintf("%s: %T: %v", name, err, err))
		}
	}
	return err
}

// finish asserts the scenario's outcome: every operation accounted for,
// none hung, no untyped failure, counts checked and exact. Call it in the
// test body, after every worker has returned.
func (s *scenario) finish() {
	t := s.t
	t.Helper()
	s.mu.Lock()
	kinds := make([]string, 0, len(s.kinds))
	for k, n := range s.kinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	bad, hungOps := append([]string(nil), s.bad...), append([]string(nil), s.hungOps...)
	s.mu.Unlock()
	t.Logf("%s: faults=%d attempted=%d succeeded=%d typed=%d [%s] untyped=%d hung=%d",
		s.name, s.faults.Load(), s.attempted.Load(), s.succeeded.Load(), s.typed.Load(),
		strings.Join(kinds, " "), s.untyped.Load(), s.hung.Load())
	require.Zero(t, s.hung.Load(), "operations hung: %v", hungOps)
	require.Zero(t, s.untyped.Load(), "untyped errors: %v", bad)
	require.Equal(t, s.attempted.Load(), s.succeeded.Load()+s.typed.Load(), "every operation accounted for")
	require.True(t, s.countsChecked.Load(), "the scenario checked its counts")
	require.False(t, s.countsWrong.Load(), "counts exact")
}

// counts is what a scenario checks of a database: its ref count and
// whether its pool is open (health, which the pings change, is not a count).
type counts struct {
	RefCount  int
	Connected bool
}

// requireCounts checks that every database's count is as expected and
// records whether they were.
func (s *scenario) requireCounts(reg *registry.Registry, want map[string]counts) {
	t := s.t
	t.Helper()
	got := statuses(t, reg)
	s.countsChecked.Store(true)
	if !reflect.DeepEqual(got, want) {
		s.countsWrong.Store(true)
	}
	require.Equal(t, want, got, "ref counts and connection states")
}

// requireRefCounts checks every database's ref count (connected iff > 0).
func (s *scenario) requireRefCounts(reg *registry.Registry, refs map[string]int) {
	s.t.Helper()
	want := map[string]counts{}
	for name, n := range refs {
		want[name] = counts{RefCount: n, Connected: n > 0}
	}
	s.requireCounts(reg, want)
}

// statuses is every database's counts, by name ("" is the main database).
func statuses(t *testing.T, reg *registry.Registry) map[string]counts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]counts{}
	for _, db := range reg.Databases() {
		st, err := db.Status(ctx)
		require.NoError(t, err, "status of %s", db)
		out[db.Name()] = counts{RefCount: st.RefCount, Connected: st.Connected}
	}
	return out
}

// registryTyped accepts the errors a registry call may fail with: a
// sentinel of package registry, or a *ConnectError / *DisconnectError.
// ErrInternal (a bug in dbactor) is never acceptable.
func registryTyped(err error) (string, bool) {
	if errors.Is(err, messages.ErrInternal) {
		return "", false
	}
	for _, s := range []struct {
		name string
		err  error
	}{
		{"ErrClosed", registry.ErrClosed},
		{"ErrTimeout", registry.ErrTimeout},
		{"ErrCanceled", registry.ErrCanceled},
		{"ErrConnectFailed", registry.ErrConnectFailed},
		{"ErrDisconnectFailed", registry.ErrDisconnectFailed},
		{"ErrRollbackFailed", registry.ErrRollbackFailed},
		{"ErrHookFailed", registry.ErrHookFailed},
		{"ErrUnknownDatabase", registry.ErrUnknownDatabase},
	} {
		if errors.Is(err, s.err) {
			return s.name, true
		}
	}
	var ce *registry.ConnectError
	if errors.As(err, &ce) {
		return "ConnectError", true
	}
	var de *registry.DisconnectError
	if errors.As(err, &de) {
		return "DisconnectError", true
	}
	return "", false
}

// queryTyped accepts the errors a query straight through Pool() or DB() may
// fail with when the server or the network fails: a server error
// (*pgconn.PgError, with its SQLSTATE), a timeout, a network error, or the
// driver's report of a broken connection.
func queryTyped(err error) (string, bool) {
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, registry.ErrConnLost):
		return "ErrConnLost", true
	case errors.As(err, &pgErr):
		return "PgError(" + pgErr.Code + ")", true
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return "timeout", true
	case errors.As(err, &connErr):
		return "pgconn.ConnectError", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused", true
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "reset", true
	case errors.As(err, &netErr):
		return "net.Error", true
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF", true
	case errors.Is(err, pgconn.ErrConnClosed):
		return "conn closed", true
	case errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone):
		return "bad conn", true
	}
	return "", false
}

// appName is a unique application_name for the sessions of one scenario.
func appName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "dbactor_rel_" + prefix + "_" + hex.EncodeToString(b[:])
}

// withParams adds query parameters to a postgres:// URL.
func withParams(t *testing.T, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// hostPort is the host:port of a postgres:// URL.
func hostPort(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// sqliteURL is a SQLite database file in the test's temporary directory.
func sqliteURL(t *testing.T, name string) string {
	return "sqlite:///" + filepath.Join(t.TempDir(), name+".db")
}

// newSystem is a quiet actor system, shut down at cleanup (after the
// registries, whose cleanups are registered later).
func newSystem(t *testing.T) *actor.ActorSystem {
	sys := registry.NewActorSystem(nil)
	t.Cleanup(sys.Shutdown)
	return sys
}

// newRegistry creates a registry closed at cleanup, with a bounded context.
func newRegistry(t *testing.T, sys *actor.ActorSystem, cfg registry.Config, opts ...registry.Option) *registry.Registry {
	t.Helper()
	reg, err := registry.New(sys, cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		require.NoError(t, reg.Close(ctx), "Close at cleanup")
		for _, db := range reg.Databases() {
			require.Nil(t, db.DB(), "%s closed", db)
		}
	})
	return reg
}

// query runs SELECT 1 on db, through its *pgxpool.Pool when viaPool, else
// through its *sql.DB. The caller holds a count on db: a nil pool is a bug
// (an untyped error).
func query(ctx context.Context, db *registry.Database, viaPool bool) error {
	var n int
	if viaPool {
		pool := db.Pool()
		if pool == nil {
			return fmt.Errorf("%s has no pool although connected", db)
		}
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
			return err
		}
	} else {
		sdb := db.DB()
		if sdb == nil {
			return fmt.Errorf("%s has no *sql.DB although connected", db)
		}
		if err := sdb.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
			return err
		}
	}
	if n != 1 {
		return fmt.Errorf("SELECT 1 returned %d", n)
	}
	return nil
}

// latch is closed once n parties have arrived (each arrives at most once
// through its own sync.Once).
type latch struct {
	left atomic.Int64
	done chan struct{}
}

func newLatch(n int) *latch {
	l := &latch{done: make(chan struct{})}
	l.left.Store(int64(n))
	if n == 0 {
		close(l.done)
	}
	return l
}

func (l *latch) arrive() {
	if l.left.Add(-1) == 0 {
		close(l.done)
	}
}

// await waits for the latch until d has passed, failing the test if it
// does not open.
func (l *latch) await(t *testing.T, d time.Duration, what string) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-l.done:
	case <-timer.C:
		t.Fatalf("%s: %d of them still missing after %v", what, l.left.Load(), d)
	}
}

// waitGroup waits for wg until d has passed; on time-out it fails the test
// with the stacks of every goroutine (the hung workers among them).
func waitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%s: still running after %v (hung)\n%s", what, d, buf)
	}
}

// connectErrorsOf lists the databases named by the *ConnectErrors in err.
func connectErrorsOf(err error) []string {
	var names []string
	for _, e := range unwrapAll(err) {
		var ce *registry.ConnectError
		if errors.As(e, &ce) {
			names = append(names, ce.Database)
		}
	}
	return names
}
