package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/registry"
)

// P5: callback fan-out, a pair. One op is one model registration delivered
// to all 8 callback actors: 8 deliveries. ns/op is per registration;
// deliveries/s (8 × 10⁹ ÷ ns/op) is reported for each side as well.
//
// dbactor: a RegisterModel sent (without a sender, so without a reply) to
// a registry whose 8 callback actors are plain Proto.Actor actors subscribed
// with RegisterCallback(ctx, "", pid, Persistent()).
//
// Reference: what a Go developer would write with Proto.Actor alone — one
// actor that receives the same RegisterModel messages, builds one
// messages.ModelRegistered per registration from the definition (the next
// sequence number included) and sends it to each of 8 subscribers.
//
// Both sides run in the same actor system, their subscribers are the same
// actor (p5Subscriber) doing the same work on receipt, and each batch of n
// ops is timed from the first Send to the arrival of the last of the 8n
// events, after a runtime.GC (so that neither side collects the other's
// garbage). A batch sets up afresh (a registry, or a reference actor, and
// 8 new subscribers) and tears down afterwards, neither timed; its
// allocations count in allocs/op and B/op, spread over the batch's 10,000
// ops (a registry's setup and teardown is about 1,300 allocations, 0.13
// per op; the reference's about 350). Target: dbactor ÷ reference ≤ 2,
// i.e. at least half the reference's deliveries/s.
const (
	// fanOutModels is the batch: registrations per side per round, as
	// many as the single fan-out P5 measured before it became a pair.
	fanOutModels      = 10_000
	fanOutSubscribers = 8
	// fanOutWait bounds the wait for a batch's deliveries: a registration
	// that failed (the sends expect no reply) shows as a failure, not a
	// hang.
	fanOutWait = time.Minute
)

// fanOutModel is the model registered under distinct names.
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

// p5Subscribers are the 8 subscribers of one batch.
type p5Subscribers struct {
	sys       *actor.ActorSystem
	pids      []*actor.PID
	all       chan struct{} // closed when each has had all its events
	remaining atomic.Int32
	mu        sync.Mutex
	errs      []error
}

func spawnP5Subscribers(sys *actor.ActorSystem, want int) *p5Subscribers {
	s := &p5Subscribers{sys: sys, all: make(chan struct{})}
	s.remaining.Store(fanOutSubscribers)
	done := func(err error) {
		if err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
		}
		if s.remaining.Add(-1) == 0 {
			close(s.all)
		}
	}
	props := actor.PropsFromProducer(func() actor.Actor { return &p5Subscriber{want: want, done: done} })
	for range fanOutSubscribers {
		s.pids = append(s.pids, sys.Root.SpawnPrefix(props, "p5-subscriber"))
	}
	return s
}

// wait waits until every subscriber has had all its events, in order.
func (s *p5Subscribers) wait() error {
	timer := time.NewTimer(fanOutWait)
	defer timer.Stop()
	select {
	case <-s.all:
	case <-timer.C:
		return fmt.Errorf("not every event arrived within %s", fanOutWait)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

func (s *p5Subscribers) stop() error {
	var errs []error
	for _, pid := range s.pids {
		if err := s.sys.Root.StopFuture(pid).Wait(); err != nil {
			errs = append(errs, fmt.Errorf("stopping subscriber %s: %w", pid.GetId(), err))
		}
	}
	return errors.Join(errs...)
}

// p5Broadcaster is the reference's registry actor: for each RegisterModel,
// one ModelRegistered built from the definition with the next sequence
// number, sent to every subscriber.
type p5Broadcaster struct {
	subs []*actor.PID
	seq  uint64
}

func (r *p5Broadcaster) Receive(c actor.Context) {
	m, ok := c.Message().(*messages.RegisterModel)
	if !ok {
		return
	}
	def := m.GetModel()
	r.seq++
	ev := &messages.ModelRegistered{Name: def.GetName(), Table: def.GetTable(), Schema: def.GetSchema(), Database: def.GetDatabase(), Sequence: r.seq}
	for _, pid := range r.subs {
		c.Send(pid, ev)
	}
}

type p5Fixture struct {
	sys  *actor.ActorSystem
	defs []*messages.ModelDef
}

// defsFor returns n model definitions under distinct names, built once
// (models.New clones a definition: registering one never changes it).
func (f *p5Fixture) defsFor(n int) ([]*messages.ModelDef, error) {
	for i := len(f.defs); i < n; i++ {
		def, err := models.FromStruct(fanOutModel{}, models.Name(fmt.Sprintf("FanOut%07d", i)))
		if err != nil {
			return nil, err
		}
		f.defs = append(f.defs, def)
	}
	return f.defs[:n], nil
}

// dbactor is the dbactor side: n registrations in a fresh registry (SQLite
// in memory, never connected) with 8 subscribers.
func (f *p5Fixture) dbactor(n int) (took time.Duration, err error) {
	ctx := context.Background()
	defs, err := f.defsFor(n)
	if err != nil {
		return 0, err
	}
	reg, err := registry.New(f.sys, registry.Config{Database: "sqlite:///:memory:"})
	if err != nil {
		return 0, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, setupTimeout)
		defer cancel()
		err = errors.Join(err, reg.Close(cctx))
	}()
	subs := spawnP5Subscribers(f.sys, n)
	defer func() { err = errors.Join(err, subs.stop()) }()
	for _, pid := range subs.pids {
		if err := reg.RegisterCallback(ctx, "", pid, client.Persistent()); err != nil {
			return 0, err
		}
	}
	took, err = f.fanOut("dbactor", reg.PID(), defs, subs)
	if err != nil {
		return 0, fmt.Errorf("%w (%d of %d models registered)", err, len(reg.Models()), n)
	}
	return took, nil
}

// reference is the reference side: n registrations sent to a fresh
// p5Broadcaster with 8 subscribers.
func (f *p5Fixture) reference(n int) (took time.Duration, err error) {
	defs, err := f.defsFor(n)
	if err != nil {
		return 0, err
	}
	subs := spawnP5Subscribers(f.sys, n)
	defer func() { err = errors.Join(err, subs.stop()) }()
	to := f.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &p5Broadcaster{subs: subs.pids} }))
	defer func() {
		if werr := f.sys.Root.StopFuture(to).Wait(); werr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the reference actor: %w", werr))
		}
	}()
	return f.fanOut("reference", to, defs, subs)
}

// fanOut is the timed part of either side: a RegisterModel for each of
// defs sent to to, and the wait for the last event to reach subs. It runs
// under the pprof label p5=side, which the goroutines of the actors it
// sets running inherit (a mailbox's goroutine is started by the Send that
// finds it idle): `go tool pprof -tagfocus p5=dbactor` shows one side.
func (f *p5Fixture) fanOut(side string, to *actor.PID, defs []*messages.ModelDef, subs *p5Subscribers) (took time.Duration, err error) {
	runtime.GC() // the other side's garbage is not this side's to collect
	pprof.Do(context.Background(), pprof.Labels("p5", side), func(context.Context) {
		start := time.Now()
		for _, def := range defs {
			f.sys.Root.Send(to, &messages.RegisterModel{Model: def})
		}
		err = subs.wait()
		took = time.Since(start)
	})
	return took, err
}

// BenchmarkP5FanOut measures the pair; besides pair's figures it reports
// each side's deliveries/s (deliveries/s, ref-deliveries/s) from its
// median ns/op.
func BenchmarkP5FanOut(b *testing.B) {
	f := &p5Fixture{sys: newActorSystem(b)}
	res := pair(b, pairOptions{batch: fanOutModels}, f.dbactor, f.reference)
	b.ReportMetric(fanOutSubscribers*1e9/res.ns, "deliveries/s")
	b.ReportMetric(fanOutSubscribers*1e9/res.refNs, "ref-deliveries/s")
}
