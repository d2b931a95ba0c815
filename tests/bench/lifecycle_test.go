package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/registry"
)

// P2: lifecycle operations. One op is db.Connect + db.Disconnect on a
// database that is already connected (ref count 1 → 2 → 1: no pool is
// opened or closed), i.e. two facade requests answered by the database
// actor. The reference op is ONE bare Proto.Actor request/response
// (RootContext.RequestFuture to an actor that answers a protobuf message)
// in the same actor system; the target is dbactor ≤ 2.5 × two of them.

// p2Timeout is the reference's future timeout; the dbactor calls take the
// registry's default (Config.Timeout) as their deadline, as an application's
// would.
const p2Timeout = 30 * time.Second

// answerer is the reference actor: it answers Connect and Disconnect at
// once, with an empty result, and does nothing else.
type answerer struct{}

func (answerer) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *messages.Connect:
		c.Respond(&messages.ConnectResult{})
	case *messages.Disconnect:
		c.Respond(&messages.DisconnectResult{})
	}
}

type p2Fixture struct {
	sys *actor.ActorSystem
	db  *registry.Database
	ref *actor.PID // the answerer
}

func p2Setup(b *testing.B) *p2Fixture {
	b.Helper()
	sys := newActorSystem(b)
	reg := connectedRegistry(b, sys, registry.Config{Database: postgresDSN(b)})
	ref := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return answerer{} }))
	b.Cleanup(func() {
		if err := sys.Root.StopFuture(ref).Wait(); err != nil {
			b.Errorf("stopping the reference actor: %v", err)
		}
	})
	return &p2Fixture{sys: sys, db: reg.Database(), ref: ref}
}

// connectDisconnect is one dbactor op.
func (f *p2Fixture) connectDisconnect(ctx context.Context) error {
	if _, err := f.db.Connect(ctx); err != nil {
		return err
	}
	_, err := f.db.Disconnect(ctx)
	return err
}

// roundTrip is one reference op.
func (f *p2Fixture) roundTrip() error {
	reply, err := f.sys.Root.RequestFuture(f.ref, &messages.Connect{}, p2Timeout).Result()
	if err != nil {
		return err
	}
	if _, ok := reply.(*messages.ConnectResult); !ok {
		return fmt.Errorf("unexpected reply %T", reply)
	}
	return nil
}

// checkCount fails b unless the database is connected once, as before the
// measurement: every connect was matched by a disconnect, and none was
// lost.
func (f *p2Fixture) checkCount(b *testing.B) {
	b.Helper()
	connectedOnce(b, f.db.Status)
}

// connectedOnce stops the timer and fails b unless status reports the
// database connected with ref count 1.
func connectedOnce(b *testing.B, status func(context.Context) (registry.Status, error)) {
	b.Helper()
	b.StopTimer()
	st, err := status(setupContext(b))
	if err != nil {
		b.Fatal(err)
	}
	if !st.Connected || st.RefCount != 1 {
		b.Fatalf("after the loop: connected=%v ref count=%d, want connected with ref count 1", st.Connected, st.RefCount)
	}
}

// BenchmarkP2ConnectDisconnect: one goroutine, one op at a time.
func BenchmarkP2ConnectDisconnect(b *testing.B) {
	f := p2Setup(b)
	pair(b, pairOptions{}, serialBatch(f.connectDisconnect), serialBatch(func(context.Context) error { return f.roundTrip() }))
	f.checkCount(b)
}

// BenchmarkP2ConnectDisconnectParallel: GOMAXPROCS goroutines on the same
// database actor — and, for the reference, the same answerer.
func BenchmarkP2ConnectDisconnectParallel(b *testing.B) {
	f := p2Setup(b)
	g := runtime.GOMAXPROCS(0)
	pair(b, pairOptions{},
		parallelBatch(g, 1, func(ctx context.Context, _ int) error { return f.connectDisconnect(ctx) }),
		parallelBatch(g, 1, func(context.Context, int) error { return f.roundTrip() }))
	f.checkCount(b)
}
