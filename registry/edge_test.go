package registry_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
	"github.com/dbactor/dbactor/supervisor"
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
	require.ErrorIs(t, sharer.Close(cancelled), context.Canceled)
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
	}, registry.WithHooks("slow", registry.Hooks{OnConnect: func(ctx context.Context) error {
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

// Requests queued behind a database actor that stops (its restarts used
// up) are all answered: by the actor, or with an error — never left to
// time out.
func TestQueuedRequestsAnsweredWhenActorStops(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)})
	db := reg.Database()
	_, err := db.Connect(ctx)
	require.NoError(t, err)

	respawned := make(chan struct{}, 1)
	sub := sys.EventStream.Subscribe(func(evt any) {
		if _, ok := evt.(*supervisor.Respawned); ok {
			respawned <- struct{}{}
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	for range 11 {
		sys.Root.Send(db.PID(), &faults.Panic{Value: "bug"})
	}
	futures := make([]chan error, 5)
	for i := range futures {
		futures[i] = make(chan error, 1)
		f := sys.Root.RequestFuture(db.PID(), &messages.GetStatus{}, 20*time.Second)
		go func() { _, err := f.Result(); futures[i] <- err }()
	}
	start := time.Now()
	for _, f := range futures {
		require.NoError(t, <-f, "a queued request was dropped")
	}
	require.Less(t, time.Since(start), 10*time.Second)
	<-respawned
	requireCount(t, db, 1, true)
}

// Close answers the message-API requests already queued at a database actor
// (a Stop would drop them unanswered).
func TestCloseAnswersQueuedRequests(t *testing.T) {
	ctx := testCtx(t)
	sys := newSystem(t)
	entered := make(chan struct{})
	reg, err := registry.New(sys, registry.Config{Database: backends[0].url(t)}, registry.WithHooks("", registry.Hooks{
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
