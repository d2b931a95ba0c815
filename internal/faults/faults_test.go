package faults_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/faults"
)

func TestArmHitDisarm(t *testing.T) {
	self := actor.NewPID("local", "x")
	faults.Hit(faults.DatabaseReceive, self, "unarmed: nothing happens")

	var seen []any
	disarm := faults.Arm(faults.DatabaseReceive, func(pid *actor.PID, msg any) {
		require.Same(t, self, pid)
		seen = append(seen, msg)
	})
	other := faults.Arm(faults.RegistryReceive, func(*actor.PID, any) { panic("not this point") })
	faults.Hit(faults.DatabaseReceive, self, 1)
	faults.Hit(faults.DatabaseReceive, self, 2)
	require.Equal(t, []any{1, 2}, seen)
	require.Panics(t, func() { faults.Hit(faults.RegistryReceive, nil, nil) })

	disarm()
	faults.Hit(faults.DatabaseReceive, self, 3)
	require.Equal(t, []any{1, 2}, seen, "disarmed")
	other()
	require.NotPanics(t, func() { faults.Hit(faults.RegistryReceive, nil, nil) })
}
