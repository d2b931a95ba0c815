package registry_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// A Close whose context is already cancelled (defer reg.Close(appCtx) after
// SIGTERM) still releases what the registry holds on a shared database, and
// a later Close waits for the shutdown to finish.
func TestCloseWithCancelledContextStillReleases(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	owner := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	sharer, err := registry.New(sys, registry.Config{Database: backends[0].url(t)}, registry.WithExtraDatabase("shared", owner.Database()))
	require.NoError(t, err)
	require.NoError(t, owner.Connect(ctx))
	require.NoError(t, sharer.Connect(ctx))
	requireCount(t, owner.Database(), 2, true)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := sharer.Close(cancelled); err != nil { // nil when the shutdown won the race
		require.ErrorIs(t, err, context.Canceled)
	}
	require.NoError(t, sharer.Close(ctx), "the second Close waits for the first one's shutdown")
	requireCount(t, owner.Database(), 1, true)
	require.Nil(t, sharer.Database().DB(), "the sharer's own database is closed")
}

// A slow database comes back as its own typed ConnectError (not the
// caller's bare timeout), and nothing stays connected.
func TestSlowDatabaseIsItsOwnConnectError(t *testing.T) {
	ctx := testCtx(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"slow": backends[0].url(t)},
	}, registry.WithHooks("slow", actors.Hooks{OnConnect: func(ctx context.Context) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	}}))
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := reg.Connect(short)
	var ce *registry.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "slow", ce.Database)
	require.ErrorIs(t, err, registry.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "on-connect hook")
	for _, db := range reg.Databases() {
		requireCount(t, db, 0, false)
	}
}

// Requests queued behind crashing messages are all answered: a crashing
// request gets an internal error, the others their normal reply — none is
// left to time out.
func TestQueuedRequestsAnsweredAcrossCrashes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	db := reg.Database()
	_, err := db.Connect(ctx)
	require.NoError(t, err)

	var futures []*actor.Future
	for i := range 30 {
		if i%3 == 0 {
			sys.Root.Send(db.PID(), &faults.Panic{Value: "bug"})
		}
		futures = append(futures, sys.Root.RequestFuture(db.PID(), &messages.GetStatus{}, 20*time.Second))
	}
	start := time.Now()
	statuses := 0
	for _, f := range futures {
		res, err := f.Result()
		require.NoError(t, err)
		st := res.(*messages.Status)
		require.Nil(t, st.GetError())
		require.EqualValues(t, 1, st.GetRefCount())
		statuses++
	}
	require.Equal(t, 30, statuses)
	require.Less(t, time.Since(start), 30*time.Second)
}

// Close answers the message-API requests already queued at a database actor
// (a Stop would drop them unanswered).
func TestCloseAnswersQueuedRequests(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	entered := make(chan struct{})
	reg, err := registry.New(sys, registry.Config{Database: backends[0].url(t)}, registry.WithHooks("", actors.Hooks{
		OnConnect: func(ctx context.Context) error {
			close(entered)
			<-ctx.Done() // keeps the actor busy until the request's deadline
			return ctx.Err()
		},
	}))
	require.NoError(t, err)
	pid := reg.Database().PID()
	connect := sys.Root.RequestFuture(pid, &messages.Connect{Deadline: deadlinePB(time.Second)}, 20*time.Second)
	<-entered
	queued := sys.Root.RequestFuture(pid, &messages.GetStatus{}, 20*time.Second)
	require.NoError(t, reg.Close(ctx))
	res, err := queued.Result()
	require.NoError(t, err)
	require.Nil(t, res.(*messages.Status).GetError())
	res, err = connect.Result()
	require.NoError(t, err)
	require.ErrorIs(t, res.(*messages.ConnectResult).GetErrors()[0], registry.ErrTimeout)
}

// The owner closes first: the sharer's calls on the shared database fail
// with ErrClosed, and the sharer's own Close is clean.
func TestOwnerClosesBeforeSharer(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	owner, err := registry.New(sys, registry.Config{Database: backends[0].url(t)})
	require.NoError(t, err)
	sharer := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, registry.WithExtraDatabase("shared", owner.Database()))
	require.NoError(t, sharer.Connect(ctx))
	require.NoError(t, owner.Close(ctx))
	shared, _ := sharer.Extra("shared")
	_, err = shared.Connect(ctx)
	require.ErrorIs(t, err, registry.ErrClosed)
	require.NoError(t, sharer.Close(ctx))
}

// The sharer closes: its handle on the shared database is closed to it,
// while the owner keeps using the database.
func TestSharerClosedHandleFailsFast(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	owner := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	sharer, err := registry.New(sys, registry.Config{Database: backends[0].url(t)}, registry.WithExtraDatabase("shared", owner.Database()))
	require.NoError(t, err)
	shared, _ := sharer.Extra("shared")
	require.NoError(t, sharer.Close(ctx))
	_, err = shared.Connect(ctx)
	require.ErrorIs(t, err, registry.ErrClosed)
	opened, err := owner.Database().Connect(ctx)
	require.NoError(t, err)
	require.True(t, opened)
}

// Callers racing their own tiny deadlines: whatever each one is told, the
// final count equals the number of connects reported as successful. A
// connect that succeeds after its caller gave up is undone.
func TestCountsExactUnderTinyDeadlines(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testCtx(t)
		reg := newRegistry(t, newSystem(t), registry.Config{Database: b.url(t), Extra: map[string]string{"x": b.url(t)}})
		db := reg.Database()
		var ok, okAll atomic.Int64
		var wg sync.WaitGroup
		for i := range 300 {
			wg.Go(func() {
				d, cancel := context.WithTimeout(ctx, time.Duration(1+i%4)*time.Millisecond)
				defer cancel()
				if i%3 == 0 {
					if reg.Connect(d) == nil {
						ok.Add(1)
						okAll.Add(1)
					}
					return
				}
				if _, err := db.Connect(d); err == nil {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		// Late successes are undone in the background: the count comes down
		// to the reported successes, and never below.
		x, _ := reg.Extra("x")
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			assert.EqualValues(c, ok.Load(), status(t, db).RefCount, "a count is held by a caller who saw an error")
			assert.EqualValues(c, okAll.Load(), status(t, x).RefCount)
		}, 20*time.Second, 10*time.Millisecond)
	})
}

func deadlinePB(in time.Duration) *timestamppb.Timestamp {
	return timestamppb.New(time.Now().Add(in))
}

// localProcesses counts the processes registered in sys.
func localProcesses(sys *actor.ActorSystem) int {
	n := 0
	for _, m := range sys.ProcessRegistry.LocalPIDs.LocalPIDs {
		n += m.Count()
	}
	return n
}

// Registries come and go in a long-lived actor system without leaving
// processes behind (one guardian for all of them, not one each).
func TestNewCloseLeavesNoProcesses(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	warm, err := registry.New(sys, registry.Config{Database: "sqlite:///:memory:"})
	require.NoError(t, err)
	require.NoError(t, warm.Close(ctx))
	before := localProcesses(sys)
	for range 20 {
		reg, err := registry.New(sys, registry.Config{Database: "sqlite:///:memory:", Extra: map[string]string{"x": "sqlite:///:memory:"}})
		require.NoError(t, err)
		require.NoError(t, reg.Connect(ctx))
		require.NoError(t, reg.Close(ctx))
	}
	require.Equal(t, before, localProcesses(sys))
}

// Owner and sharer closing at the same time (an ordinary shutdown): both
// finish promptly and cleanly.
func TestOwnerAndSharerCloseTogether(t *testing.T) {
	for range 10 {
		ctx := testCtx(t)
		sys := newSystem(t)
		owner, err := registry.New(sys, registry.Config{Database: backends[0].url(t)})
		require.NoError(t, err)
		sharer, err := registry.New(sys, registry.Config{Database: backends[0].url(t)}, registry.WithExtraDatabase("shared", owner.Database()))
		require.NoError(t, err)
		require.NoError(t, owner.Connect(ctx))
		require.NoError(t, sharer.Connect(ctx))
		start := time.Now()
		errs := make(chan error, 2)
		go func() { errs <- owner.Close(ctx) }()
		go func() { errs <- sharer.Close(ctx) }()
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
		require.Less(t, time.Since(start), 5*time.Second)
	}
}

// A cancelled connect on a shared handle, then the sharer's Close: the late
// connect is still given back to the owner's database.
func TestCancelledSharedConnectUndoneAfterSharerClose(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	undone := make(chan struct{}, 1)
	owner := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, registry.WithHooks("", actors.Hooks{
		OnConnect:    func(context.Context) error { entered <- struct{}{}; <-release; return nil },
		OnDisconnect: func(context.Context) error { undone <- struct{}{}; return nil },
	}))
	sharer, err := registry.New(sys, registry.Config{Database: backends[0].url(t)}, registry.WithExtraDatabase("shared", owner.Database()))
	require.NoError(t, err)
	shared, _ := sharer.Extra("shared")
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := shared.Connect(cctx); errc <- err }()
	<-entered
	cancel()
	require.ErrorIs(t, <-errc, registry.ErrCanceled)
	closed := make(chan error, 1)
	go func() { closed <- sharer.Close(ctx) }()
	close(release)
	require.NoError(t, <-closed)
	select {
	case <-undone:
	case <-ctx.Done():
		t.Fatal("the late shared connect was not given back")
	}
	requireCount(t, owner.Database(), 0, false)
}

// A registry embedded with Props and stopped by its parent while a connect
// is under way: the connect is reported closed (unless it finished first),
// and everything the registry held on a shared database — before and
// during — is given back.
func TestEmbeddedRegistryStoppedMidConnect(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	owner := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	var block atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	pid := sys.Root.Spawn(registry.Props(registry.Config{Database: backends[0].url(t), Extra: map[string]string{"slow": backends[0].url(t)}},
		registry.WithExtraDatabase("shared", owner.Database()),
		registry.WithHooks("slow", actors.Hooks{OnConnect: func(context.Context) error {
			if block.Load() {
				entered <- struct{}{}
				<-release
			}
			return nil
		}})))
	res, err := sys.Root.RequestFuture(pid, &messages.Connect{}, 10*time.Second).Result()
	require.NoError(t, err)
	require.Empty(t, res.(*messages.ConnectResult).GetErrors())
	requireCount(t, owner.Database(), 1, true)

	// "slow" must open again for its hook to run: give its count back.
	res, err = sys.Root.RequestFuture(pid, &messages.Disconnect{Target: &messages.Target{Database: "slow"}}, 10*time.Second).Result()
	require.NoError(t, err)
	require.True(t, res.(*messages.DisconnectResult).GetClosed())
	block.Store(true)
	pending := sys.Root.RequestFuture(pid, &messages.Connect{}, 20*time.Second)
	<-entered
	stopped := sys.Root.StopFuture(pid)
	close(release)
	require.NoError(t, stopped.Wait())
	res, err = pending.Result()
	require.NoError(t, err)
	if errs := res.(*messages.ConnectResult).GetErrors(); len(errs) > 0 {
		// Stopped before it finished; otherwise it finished before the stop
		// reached the supervisor, and counts among what the stop gives back.
		require.ErrorIs(t, messages.Join(errs), registry.ErrClosed)
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, 0, status(t, owner.Database()).RefCount)
	}, 10*time.Second, 10*time.Millisecond)
	_ = ctx
}

// WithName taken: a configuration error, nothing spawned.
func TestWithNameTaken(t *testing.T) {
	sys := newSystem(t)
	newRegistry(t, sys, registry.Config{Database: "sqlite:///:memory:"}, registry.WithName("registry"))
	_, err := registry.New(sys, registry.Config{Database: "sqlite:///:memory:"}, registry.WithName("registry"))
	require.ErrorIs(t, err, registry.ErrInvalidConfig)
}

// Close after the user shut down the registry's own actor system: no panic.
func TestCloseAfterOwnSystemShutdown(t *testing.T) {
	reg, err := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"})
	require.NoError(t, err)
	reg.System().Shutdown()
	require.NoError(t, reg.Close(testCtx(t)))
}

// A rollback that takes a while (a slow on-disconnect hook) still fits the
// time the supervisor keeps for it: the caller gets the typed error.
func TestSlowRollbackStillTyped(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: backends[0].url(t),
		Extra:    map[string]string{"broken": missingDirURL(t)},
	}, registry.WithHooks("", actors.Hooks{OnDisconnect: func(ctx context.Context) error {
		<-time.After(50 * time.Millisecond) // a slow hook, bounded well inside the reserve
		return nil
	}}))
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err := reg.Connect(short)
	var ce *registry.ConnectError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "broken", ce.Database)
	requireCount(t, reg.Database(), 0, false)
}

// Close does not wait for a long connect under way: closing the database
// cuts it short, and no pool opens after Close has returned.
func TestCloseCutsConnectShort(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	entered := make(chan struct{})
	reg, err := registry.New(sys, registry.Config{Database: backends[0].url(t), Timeout: 300 * time.Millisecond},
		registry.WithHooks("", actors.Hooks{OnConnect: func(ctx context.Context) error {
			close(entered)
			<-ctx.Done() // until the request's deadline — or the Close
			return ctx.Err()
		}}))
	require.NoError(t, err)
	connect := sys.Root.RequestFuture(reg.Database().PID(), &messages.Connect{Deadline: deadlinePB(15 * time.Second)}, 20*time.Second)
	<-entered
	start := time.Now()
	_ = reg.Close(ctx) // may report that the busy database did not answer in time
	require.Less(t, time.Since(start), 5*time.Second, "Close waited for the connect")
	res, err := connect.Result()
	require.NoError(t, err)
	require.NotEmpty(t, res.(*messages.ConnectResult).GetErrors())
	require.Nil(t, reg.Database().DB())
}
