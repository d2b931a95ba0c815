package registry_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// trackedRegistry is a SQLite registry with one extra whose CallerReleased
// events arrive on the returned channel.
func trackedRegistry(t *testing.T) (*registry.Registry, chan *messages.CallerReleased) {
	t.Helper()
	released := make(chan *messages.CallerReleased, 8)
	dir := t.TempDir()
	reg := newRegistry(t, newSystem(t), registry.Config{
		Database: "sqlite:///" + filepath.Join(dir, "main.db"),
		Extra:    map[string]string{"audit": "sqlite:///" + filepath.Join(dir, "audit.db")},
	}, registry.WithEventHook(func(ev messages.Event) {
		if r, ok := ev.(*messages.CallerReleased); ok {
			released <- r
		}
	}))
	return reg, released
}

// owner spawns an actor that does nothing: the owner of some counts.
func owner(t *testing.T, sys *actor.ActorSystem) (*actor.PID, *messages.Pid) {
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	t.Cleanup(func() { sys.Root.Stop(pid) })
	return pid, &messages.Pid{Address: pid.GetAddress(), Id: pid.GetId()}
}

func send(t *testing.T, reg *registry.Registry, msg any) any {
	t.Helper()
	reply, err := request.Request(testCtx(t), reg.System(), reg.PID(), msg, 0)
	require.NoError(t, err)
	return reply
}

func waitReleased(t *testing.T, ch chan *messages.CallerReleased) *messages.CallerReleased {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-testCtx(t).Done():
		t.Fatal("no CallerReleased event")
		return nil
	}
}

func TestOwnerStoppedGivesBackItsCounts(t *testing.T) {
	reg, released := trackedRegistry(t)
	audit, err := reg.Extra("audit")
	require.NoError(t, err)
	pid, own := owner(t, reg.System())

	// Someone untracked holds a count too: it must survive the owner's end.
	require.NoError(t, reg.Connect(testCtx(t)))
	for range 2 {
		r := send(t, reg, &messages.Connect{Owner: own}).(*messages.ConnectResult)
		require.Empty(t, r.GetErrors())
	}
	r := send(t, reg, &messages.Connect{Owner: own, Target: &messages.Target{Database: "audit"}}).(*messages.ConnectResult)
	require.Empty(t, r.GetErrors())
	requireCount(t, reg.Database(), 3, true)
	requireCount(t, audit, 4, true)

	require.NoError(t, request.WaitStopped(testCtx(t), reg.System(), pid, false))
	ev := waitReleased(t, released)
	require.Equal(t, "stopped", ev.GetReason())
	require.Equal(t, pid.GetId(), ev.GetCaller().GetId())
	require.EqualValues(t, 2, ev.GetConnects())
	require.Len(t, ev.GetDatabases(), 1)
	require.Equal(t, "audit", ev.GetDatabases()[0].GetDatabase())
	require.EqualValues(t, 1, ev.GetDatabases()[0].GetCount())
	require.Empty(t, ev.GetErrors())
	requireCount(t, reg.Database(), 1, true)
	requireCount(t, audit, 1, true)

	require.NoError(t, reg.Disconnect(testCtx(t)))
	requireCount(t, reg.Database(), 0, false)
	requireCount(t, audit, 0, false)
}

func TestTrackedCallerGivesBackOnlyWhatItHolds(t *testing.T) {
	reg, released := trackedRegistry(t)
	_, own := owner(t, reg.System())
	_, other := owner(t, reg.System())

	require.NoError(t, reg.Connect(testCtx(t))) // untracked
	require.Empty(t, send(t, reg, &messages.Connect{Owner: own}).(*messages.ConnectResult).GetErrors())
	requireCount(t, reg.Database(), 2, true)

	// other holds nothing: its disconnect must not take someone's count.
	d := send(t, reg, &messages.Disconnect{Owner: other}).(*messages.DisconnectResult)
	require.Empty(t, d.GetErrors())
	require.False(t, d.GetClosed())
	requireCount(t, reg.Database(), 2, true)
	d = send(t, reg, &messages.Disconnect{Owner: other, Target: &messages.Target{Database: "audit"}}).(*messages.DisconnectResult)
	require.Empty(t, d.GetErrors())
	requireCount(t, reg.Database(), 2, true)

	// own gives back its one count, then has nothing more to give.
	require.Empty(t, send(t, reg, &messages.Disconnect{Owner: own}).(*messages.DisconnectResult).GetErrors())
	requireCount(t, reg.Database(), 1, true)
	require.Empty(t, send(t, reg, &messages.Disconnect{Owner: own}).(*messages.DisconnectResult).GetErrors())
	requireCount(t, reg.Database(), 1, true)
	select {
	case ev := <-released:
		t.Fatalf("nothing was held, yet: %v", ev)
	default:
	}
	require.NoError(t, reg.Disconnect(testCtx(t)))
	requireCount(t, reg.Database(), 0, false)
}

func TestForcedDisconnectClearsTrackedCounts(t *testing.T) {
	reg, released := trackedRegistry(t)
	pid, own := owner(t, reg.System())
	require.Empty(t, send(t, reg, &messages.Connect{Owner: own}).(*messages.ConnectResult).GetErrors())
	require.Empty(t, send(t, reg, &messages.Disconnect{Force: true}).(*messages.DisconnectResult).GetErrors())
	requireCount(t, reg.Database(), 0, false)

	// Connected again by someone else: the owner's end must not take it.
	require.NoError(t, reg.Connect(testCtx(t)))
	require.NoError(t, request.WaitStopped(testCtx(t), reg.System(), pid, false))
	// The owner's Terminated has been handled once a later request is
	// answered (one mailbox); it held nothing, so no event.
	requireCount(t, reg.Database(), 1, true)
	_ = send(t, reg, &messages.ListDatabases{})
	select {
	case ev := <-released:
		t.Fatalf("the forced disconnect cleared the owner's counts, yet: %v", ev)
	default:
	}
	require.NoError(t, reg.Disconnect(testCtx(t)))
}

func TestConnectForAnOwnerThatIsGone(t *testing.T) {
	reg, released := trackedRegistry(t)
	gone := &messages.Pid{Address: reg.System().Address(), Id: "no-such-actor"}
	r := send(t, reg, &messages.Connect{Owner: gone}).(*messages.ConnectResult)
	require.Empty(t, r.GetErrors())
	ev := waitReleased(t, released)
	require.Equal(t, "not_found", ev.GetReason())
	require.EqualValues(t, 1, ev.GetConnects())
	requireCount(t, reg.Database(), 0, false)
}

func TestLocalClient(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		reg, released := func() (*registry.Registry, chan *messages.CallerReleased) {
			released := make(chan *messages.CallerReleased, 8)
			return newRegistry(t, newSystem(t), registry.Config{Database: b.url(t)}, registry.WithEventHook(func(ev messages.Event) {
				if r, ok := ev.(*messages.CallerReleased); ok {
					released <- r
				}
			})), released
		}()
		cl, err := client.Attach(reg.System(), reg.PID(), client.WithCallTimeout(10*time.Second))
		require.NoError(t, err)
		ctx := testCtx(t)

		require.NoError(t, cl.Connect(ctx))
		opened, err := cl.Database().Connect(ctx)
		require.NoError(t, err)
		require.False(t, opened)
		st, err := cl.Database().Status(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, st.RefCount)
		list, err := cl.Databases(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)

		_, err = cl.Extra("nope").Status(ctx)
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		require.ErrorIs(t, cl.CreateSchema(ctx, ""), registry.ErrInvalidName)

		n, err := cl.Database().Exec(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = cl.Database().Exec(ctx, "INSERT INTO t (id, name) VALUES (1, 'a'), (2, 'b')")
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		res, err := cl.Database().Query(ctx, "SELECT id, name FROM t ORDER BY id")
		require.NoError(t, err)
		require.Len(t, res.Columns, 2)
		require.Equal(t, "name", res.Columns[1].Name)
		require.Equal(t, [][]any{{int64(1), "a"}, {int64(2), "b"}}, res.Rows)
		_, err = cl.Database().WithLimits(1, 0).Query(ctx, "SELECT id FROM t")
		require.ErrorIs(t, err, client.ErrLimitExceeded)
		_, err = cl.Database().Query(ctx, "SELECT nope FROM t")
		require.ErrorIs(t, err, client.ErrQuery)

		// Close gives back what the client still held.
		require.NoError(t, cl.Close(ctx))
		ev := waitReleased(t, released)
		require.Equal(t, "stopped", ev.GetReason())
		require.EqualValues(t, 1, ev.GetConnects())
		require.Len(t, ev.GetDatabases(), 1)
		requireCount(t, reg.Database(), 0, false)
		require.ErrorIs(t, cl.Connect(ctx), registry.ErrClosed)
		require.NoError(t, cl.Close(ctx), "Close is idempotent")
	})
}

func TestAttachRefusesBadInput(t *testing.T) {
	sys := newSystem(t)
	_, err := client.Attach(sys, nil)
	require.ErrorIs(t, err, messages.ErrInvalidArgument)
	_, err = client.Attach(nil, actor.NewPID("x", "y"))
	require.ErrorIs(t, err, messages.ErrInvalidArgument)
	_, err = client.Attach(sys, actor.NewPID("x", "y"), client.WithCallTimeout(-time.Second))
	require.ErrorIs(t, err, messages.ErrInvalidArgument)

	// A registry that does not exist: the call fails fast, typed.
	cl, err := client.Attach(sys, actor.NewPID(sys.Address(), "no-registry"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close(context.Background()) })
	require.ErrorIs(t, cl.Connect(testCtx(t)), registry.ErrClosed)
}

// gatedRegistry is a one-database SQLite registry whose pool opening
// waits in its on-connect hook: entered tells that a connect reached it,
// closing release lets every one through.
func gatedRegistry(t *testing.T) (reg *registry.Registry, released chan *messages.CallerReleased, entered chan struct{}, release chan struct{}) {
	released = make(chan *messages.CallerReleased, 8)
	entered, release = make(chan struct{}, 1), make(chan struct{})
	reg = newRegistry(t, newSystem(t), registry.Config{Database: "sqlite:///" + filepath.Join(t.TempDir(), "main.db")},
		registry.WithHooks("", actors.Hooks{OnConnect: func(ctx context.Context) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}),
		registry.WithEventHook(func(ev messages.Event) {
			if r, ok := ev.(*messages.CallerReleased); ok {
				released <- r
			}
		}))
	return reg, released, entered, release
}

// noRelease closes the registry (which waits for every give-back under
// way) and checks that none was published.
func noRelease(t *testing.T, reg *registry.Registry, released chan *messages.CallerReleased) {
	t.Helper()
	require.NoError(t, reg.Close(testCtx(t)))
	select {
	case ev := <-released:
		t.Fatalf("a caller's counts were given back, yet it held none: %v", ev)
	default:
	}
}

func TestRefusedTrackedDisconnectKeepsTheCount(t *testing.T) {
	for _, target := range []*messages.Target{nil, {}} {
		t.Run(fmt.Sprintf("target=%v", target != nil), func(t *testing.T) {
			reg, released := trackedRegistry(t)
			pid, own := owner(t, reg.System())
			require.Empty(t, send(t, reg, &messages.Connect{Owner: own, Target: target}).(*messages.ConnectResult).GetErrors())
			// Refused before acting: its deadline has passed.
			past := timestamppb.New(time.Now().Add(-time.Second))
			d := send(t, reg, &messages.Disconnect{Owner: own, Target: target, Deadline: past}).(*messages.DisconnectResult)
			require.NotEmpty(t, d.GetErrors())
			requireCount(t, reg.Database(), 1, true)
			// The count is still the owner's: its end gives it back.
			require.NoError(t, request.WaitStopped(testCtx(t), reg.System(), pid, false))
			ev := waitReleased(t, released)
			if target == nil {
				require.EqualValues(t, 1, ev.GetConnects())
			} else {
				require.Len(t, ev.GetDatabases(), 1)
			}
			requireCount(t, reg.Database(), 0, false)
		})
	}
}

func TestForceWhileTrackedConnectIsUnderWay(t *testing.T) {
	for _, target := range []*messages.Target{nil, {}} {
		t.Run(fmt.Sprintf("target=%v", target != nil), func(t *testing.T) {
			reg, released, entered, release := gatedRegistry(t)
			pid, own := owner(t, reg.System())
			connect := request.Send(reg.System(), reg.PID(), &messages.Connect{Owner: own, Target: target}, nil, nil)
			defer connect.Close()
			<-entered // the connect holds the database actor
			force := request.Send(reg.System(), reg.PID(), &messages.Disconnect{Force: true, Target: target}, nil, nil)
			defer force.Close()
			// One mailbox: once a later request is answered, the registry
			// has seen the force (it then waits behind the connect).
			_ = send(t, reg, &messages.ListDatabases{})
			close(release)
			r, err := connect.Wait(testCtx(t), nil)
			require.NoError(t, err)
			require.Empty(t, r.(*messages.ConnectResult).GetErrors())
			r, err = force.Wait(testCtx(t), nil)
			require.NoError(t, err)
			require.Empty(t, r.(*messages.DisconnectResult).GetErrors())
			requireCount(t, reg.Database(), 0, false)

			_, err = reg.Database().Connect(testCtx(t)) // someone else's
			require.NoError(t, err)
			require.NoError(t, request.WaitStopped(testCtx(t), reg.System(), pid, false))
			_ = send(t, reg, &messages.ListDatabases{}) // the owner's end is handled
			requireCount(t, reg.Database(), 1, true)
			noRelease(t, reg, released)
		})
	}
}

func TestSameConnectMessageSentTwice(t *testing.T) {
	reg, released, entered, release := gatedRegistry(t)
	pid, own := owner(t, reg.System())
	msg := &messages.Connect{Owner: own}
	replies := make(chan any, 2)
	for range 2 {
		go func() {
			r, err := request.Request(testCtx(t), reg.System(), reg.PID(), msg, 0)
			if err != nil {
				r = err
			}
			replies <- r
		}()
	}
	<-entered
	close(release)
	for range 2 {
		require.Empty(t, (<-replies).(*messages.ConnectResult).GetErrors())
	}
	requireCount(t, reg.Database(), 2, true)
	require.NoError(t, request.WaitStopped(testCtx(t), reg.System(), pid, false))
	require.EqualValues(t, 2, waitReleased(t, released).GetConnects())
	requireCount(t, reg.Database(), 0, false)
}

// A force and a tracked connect sent back to back to a registry of two
// databases: the force's fan-out must not land after the connect, or the
// owner would be credited with a count the force took.
func TestForceThenTrackedConnectKeepOrder(t *testing.T) {
	reg, released := trackedRegistry(t)
	sys := reg.System()
	pid, own := owner(t, sys)
	for range 100 {
		require.Empty(t, send(t, reg, &messages.Connect{Owner: own}).(*messages.ConnectResult).GetErrors())
		force := request.Send(sys, reg.PID(), &messages.Disconnect{Force: true}, nil, nil)
		connect := request.Send(sys, reg.PID(), &messages.Connect{Owner: own}, nil, nil)
		_, err := force.Wait(testCtx(t), nil)
		require.NoError(t, err)
		r, err := connect.Wait(testCtx(t), nil)
		require.NoError(t, err)
		force.Close()
		connect.Close()
		require.Empty(t, r.(*messages.ConnectResult).GetErrors())
		requireCount(t, reg.Database(), 1, true)
		require.Empty(t, send(t, reg, &messages.Disconnect{Owner: own}).(*messages.DisconnectResult).GetErrors())
		requireCount(t, reg.Database(), 0, false)
	}
	// The owner holds nothing: its end gives nothing back.
	require.NoError(t, request.WaitStopped(testCtx(t), sys, pid, false))
	_ = send(t, reg, &messages.ListDatabases{})
	noRelease(t, reg, released)
}

// A crash of the supervisor on a tracked registry-wide Disconnect: the
// caller's claim comes back, so its end still gives the count back.
func TestSupervisorCrashKeepsTrackedClaim(t *testing.T) {
	t.Parallel()
	for _, extra := range []bool{false, true} {
		t.Run(fmt.Sprintf("extra=%v", extra), func(t *testing.T) {
			released := make(chan *messages.CallerReleased, 8)
			dir := t.TempDir()
			cfg := registry.Config{Database: "sqlite:///" + filepath.Join(dir, "main.db")}
			if extra {
				cfg.Extra = map[string]string{"audit": "sqlite:///" + filepath.Join(dir, "audit.db")}
			}
			sys := newSystem(t)
			reg := newRegistry(t, sys, cfg, registry.WithEventHook(func(ev messages.Event) {
				if r, ok := ev.(*messages.CallerReleased); ok {
					released <- r
				}
			}))
			pid, own := owner(t, reg.System())
			require.Empty(t, send(t, reg, &messages.Connect{Owner: own}).(*messages.ConnectResult).GetErrors())
			sup := actor.NewPID(reg.System().Address(), reg.PID().GetId()+"/supervisor")
			once(t, sys, faults.SupervisorReceive, func(self *actor.PID, msg any) bool {
				d, ok := msg.(*messages.Disconnect)
				return ok && d.GetTarget() == nil && self.Equal(sup)
			}, "supervisor bug")
			d := send(t, reg, &messages.Disconnect{Owner: own}).(*messages.DisconnectResult)
			require.NotEmpty(t, d.GetErrors())
			requireCount(t, reg.Database(), 1, true)
			require.NoError(t, request.WaitStopped(testCtx(t), reg.System(), pid, false))
			require.EqualValues(t, 1, waitReleased(t, released).GetConnects())
			requireCount(t, reg.Database(), 0, false)
		})
	}
}
