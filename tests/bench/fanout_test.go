package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// P5: callback fan-out. 10 000 model registrations, each delivered to 8
// callback actors (plain Proto.Actor actors subscribed with
// RegisterCallback(ctx, "", pid, Persistent())): 80 000 deliveries per
// iteration. Target: ≥ 1 000 000 deliveries/s.
const (
	fanOutModels      = 10_000
	fanOutSubscribers = 8
	fanOutDeliveries  = fanOutModels * fanOutSubscribers
	// fanOutWait bounds the wait for the deliveries: a registration that
	// failed (the sends expect no reply) shows as a failure, not a hang.
	fanOutWait = time.Minute
)

// fanOutModel is the model registered 10 000 times under distinct names.
type fanOutModel struct {
	ID    int64  `db:"id,pk"`
	Title string `db:"title"`
	Done  bool   `db:"done"`
}

// p5Subscriber is a callback actor: it counts ModelRegistered events,
// checks they arrive in registration order, and reports when it has all of
// them.
type p5Subscriber struct {
	want int
	got  int
	last uint64
	bad  error
	done func(error)
}

func (c *p5Subscriber) Receive(ctx actor.Context) {
	ev, ok := ctx.Message().(*messages.ModelRegistered)
	if !ok {
		return
	}
	c.got++
	if ev.GetSequence() <= c.last && c.bad == nil {
		c.bad = fmt.Errorf("%s: event %q (sequence %d) after sequence %d", ctx.Self().GetId(), ev.GetName(), ev.GetSequence(), c.last)
	}
	c.last = ev.GetSequence()
	if c.got == c.want {
		c.done(c.bad)
	}
}

// fanOutDefs builds the model definitions once: each iteration registers
// them in a fresh registry (models.New clones a definition, so they are
// never changed).
func fanOutDefs(b *testing.B) []*messages.ModelDef {
	b.Helper()
	defs := make([]*messages.ModelDef, fanOutModels)
	for i := range defs {
		def, err := models.FromStruct(fanOutModel{}, models.Name(fmt.Sprintf("FanOut%05d", i)))
		if err != nil {
			b.Fatal(err)
		}
		defs[i] = def
	}
	return defs
}

// BenchmarkP5FanOut measures one whole fan-out per iteration: a fresh
// registry (SQLite in memory, never connected), 8 subscribers, 10 000
// registrations sent to the registry actor without waiting for each reply
// (a Send has no sender, so the actor answers nothing; its mailbox keeps
// them in order), and the wait until the last of the 80 000 events has
// reached its subscriber; then the registry is closed and the subscribers
// stopped. ns/op therefore covers setup and teardown too.
func BenchmarkP5FanOut(b *testing.B) {
	defs := fanOutDefs(b)
	sys := registry.NewActorSystem(nil)
	defer sys.Shutdown()
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		fanOutOnce(ctx, b, sys, defs)
	}
	if b.N > 0 && b.Elapsed() > 0 {
		perOp := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(fanOutDeliveries/perOp, "deliveries/s")
	}
}

func fanOutOnce(ctx context.Context, b *testing.B, sys *actor.ActorSystem, defs []*messages.ModelDef) {
	reg, err := registry.New(sys, registry.Config{Database: "sqlite:///:memory:"})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := reg.Close(cctx); err != nil {
			b.Error(err)
		}
	}()

	// all is closed by the subscriber that receives the last of the 80 000
	// events.
	var (
		mu        sync.Mutex
		errs      []error
		remaining atomic.Int32
	)
	all := make(chan struct{})
	remaining.Store(fanOutSubscribers)
	done := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		if remaining.Add(-1) == 0 {
			close(all)
		}
	}
	pids := make([]*actor.PID, 0, fanOutSubscribers)
	defer func() {
		for _, pid := range pids {
			if err := sys.Root.StopFuture(pid).Wait(); err != nil {
				b.Errorf("stopping subscriber %s: %v", pid.GetId(), err)
			}
		}
	}()
	for range fanOutSubscribers {
		pid := sys.Root.SpawnPrefix(actor.PropsFromProducer(func() actor.Actor {
			return &p5Subscriber{want: fanOutModels, done: done}
		}), "p5-subscriber")
		pids = append(pids, pid)
		if err := reg.RegisterCallback(ctx, "", pid, registry.Persistent()); err != nil {
			b.Fatal(err)
		}
	}

	to := reg.PID()
	for _, def := range defs {
		sys.Root.Send(to, &messages.RegisterModel{Model: def})
	}

	timer := time.NewTimer(fanOutWait)
	defer timer.Stop()
	select {
	case <-all:
	case <-timer.C:
		b.Fatalf("not every event arrived within %s (%d models registered)", fanOutWait, len(reg.Models()))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, err := range errs {
		b.Error(err)
	}
}
