package faults_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/faults"
	"github.com/dbactor/dbactor/internal/testdb"
)

func TestArmHitDisarm(t *testing.T) {
	t.Parallel()
	self := actor.NewPID("local", "x")
	in := faults.Install(testdb.ActorSystem(t))
	in.Hit(faults.DatabaseReceive, self, "unarmed: nothing happens")

	var seen []any
	disarm := in.Arm(faults.DatabaseReceive, func(pid *actor.PID, msg any) {
		require.Same(t, self, pid)
		seen = append(seen, msg)
	})
	other := in.Arm(faults.RegistryReceive, func(*actor.PID, any) { panic("not this point") })
	in.Hit(faults.DatabaseReceive, self, 1)
	in.Hit(faults.DatabaseReceive, self, 2)
	require.Equal(t, []any{1, 2}, seen)
	require.Panics(t, func() { in.Hit(faults.RegistryReceive, nil, nil) })

	disarm()
	in.Hit(faults.DatabaseReceive, self, 3)
	require.Equal(t, []any{1, 2}, seen, "disarmed")
	other()
	require.NotPanics(t, func() { in.Hit(faults.RegistryReceive, nil, nil) })
}

// A disarm removes only its own fault, not one armed at the point since.
func TestDisarmKeepsALaterArm(t *testing.T) {
	t.Parallel()
	in := faults.Install(testdb.ActorSystem(t))
	first := in.Arm(faults.QueryWorker, func(*actor.PID, any) { panic("first") })
	var later int
	second := in.Arm(faults.QueryWorker, func(*actor.PID, any) { later++ })
	in.Hit(faults.QueryWorker, nil, nil)
	first()
	in.Hit(faults.QueryWorker, nil, nil)
	require.Equal(t, 2, later)
	second()
	in.Hit(faults.QueryWorker, nil, nil)
	require.Equal(t, 2, later)
}

// Injectors are per actor system: a system without one has none (For is
// nil, and a nil Injector's Hit does nothing), and arming one system's
// reaches no other.
func TestPerSystem(t *testing.T) {
	t.Parallel()
	plain := testdb.ActorSystem(t)
	require.Nil(t, faults.For(plain))
	require.Nil(t, faults.For(nil))
	var none *faults.Injector
	require.NotPanics(t, func() {
		none.Hit(faults.DatabaseReceive, nil, &faults.Panic{Value: "ignored"})
		none.Hit(faults.QueryWorker, nil, nil)
	})

	a, b := testdb.ActorSystem(t), testdb.ActorSystem(t)
	ina, inb := faults.Install(a), faults.Install(b)
	require.NotSame(t, ina, inb)
	require.Same(t, ina, faults.For(a))
	require.Same(t, ina, faults.Install(a), "installed once")
	require.Nil(t, faults.For(plain), "installing elsewhere leaves plain alone")

	defer ina.Arm(faults.SchemaJob, func(*actor.PID, any) { panic("a's fault") })()
	require.Panics(t, func() { faults.For(a).Hit(faults.SchemaJob, nil, "") })
	require.NotPanics(t, func() { faults.For(b).Hit(faults.SchemaJob, nil, "") })
}

// At a Receive point a Panic message panics with its Value, after any
// armed fault ran; elsewhere it is a message like any other.
func TestPanicMessage(t *testing.T) {
	t.Parallel()
	in := faults.Install(testdb.ActorSystem(t))
	msg := &faults.Panic{Value: "boom"}
	for _, p := range []faults.Point{faults.DatabaseReceive, faults.SupervisorReceive, faults.RegistryReceive} {
		require.PanicsWithValue(t, "boom", func() { in.Hit(p, nil, msg) }, string(p))
	}
	for _, p := range []faults.Point{faults.DatabaseOpened, faults.SupervisorFanOut, faults.SupervisorConnected,
		faults.SchemaJob, faults.HealthPing, faults.QueryWorker} {
		require.NotPanics(t, func() { in.Hit(p, nil, msg) }, string(p))
	}
	ran := false
	defer in.Arm(faults.DatabaseReceive, func(_ *actor.PID, m any) { ran = m == msg })()
	require.PanicsWithValue(t, "boom", func() { in.Hit(faults.DatabaseReceive, nil, msg) })
	require.True(t, ran, "the armed fault ran first")
}
