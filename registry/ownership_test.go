package registry_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// A refused second spawn of the same props stopping must not switch the
// live registry's drain on.
func TestRefusedSecondSpawnLeavesLiveRegistryAlone(t *testing.T) {
	sys := newSystem(t)
	props := registry.Props(registry.Config{Database: "sqlite:///:memory:"})
	live := sys.Root.Spawn(props)
	t.Cleanup(func() { _ = sys.Root.StopFuture(live).Wait() })
	// The first to start owns the props: let live start first.
	_, err := sys.Root.RequestFuture(live, &messages.ListDatabases{}, 5*time.Second).Result()
	require.NoError(t, err)
	dup := sys.Root.Spawn(props)
	res, err := sys.Root.RequestFuture(dup, &messages.Connect{}, 5*time.Second).Result()
	require.NoError(t, err)
	require.ErrorIs(t, messages.Join(res.(*messages.ConnectResult).GetErrors()), registry.ErrInvalidConfig)
	require.NoError(t, sys.Root.StopFuture(dup).Wait())

	res, err = sys.Root.RequestFuture(live, &messages.Connect{}, 5*time.Second).Result()
	require.NoError(t, err)
	require.Empty(t, res.(*messages.ConnectResult).GetErrors())
	res, err = sys.Root.RequestFuture(live, &messages.Disconnect{}, 5*time.Second).Result()
	require.NoError(t, err)
	require.Empty(t, res.(*messages.DisconnectResult).GetErrors())
}

// The supervisor resumes whatever the registry is called; callback actors
// restart.
func TestSupervisorResumesWhateverTheName(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	sys := newSystem(t)
	reg := newRegistry(t, sys, registry.Config{Database: backends[0].url(t)}, registry.WithName("tenants/callbacks/registry"))
	events := make(chan *actor.SupervisorEvent, 4)
	sub := sys.EventStream.Subscribe(func(ev any) {
		if se, ok := ev.(*actor.SupervisorEvent); ok {
			events <- se
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	require.NoError(t, reg.Connect(ctx))
	sys.Root.Send(actor.NewPID(sys.Address(), reg.PID().GetId()+"/supervisor"), &faults.Panic{Value: "test"})
	se := <-events
	require.Equal(t, actor.ResumeDirective, se.Directive)
	requireCount(t, reg.Database(), 1, true)
	require.NoError(t, reg.Disconnect(ctx))
}

// A copy of a copy keeps working when the copy in between closes: only the
// owner's Close closes the databases.
func TestCopyOfCopy(t *testing.T) {
	ctx := testCtx(t)
	reg := newRegistry(t, newSystem(t), registry.Config{Database: backends[0].url(t)})
	cp1, err := reg.Copy(ctx)
	require.NoError(t, err)
	cp2, err := cp1.Copy(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cp2.Close(testCtx(t))) })
	require.NoError(t, cp1.Close(ctx))
	opened, err := cp2.Database().Connect(ctx)
	require.NoError(t, err)
	require.True(t, opened)
	requireCount(t, reg.Database(), 1, true)
	_, err = cp2.Database().Disconnect(ctx)
	require.NoError(t, err)
}
