package regactor

import (
	"fmt"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/internal/catalog"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
)

// callbackTarget is where a model callback goes: an actor (a user's, or one
// the registry made from a Go func and owns), or a function the registry
// itself runs inside its actor (the content-type injection).
type callbackTarget struct {
	pid   *actor.PID
	owned bool
	run   func(*models.Model)
	// peer is the identity of the peer on another node that subscribed
	// it ("" for a local subscription): its callbacks are capped.
	peer string
}

// delivery is one event for one callback actor.
type delivery struct {
	target callbackTarget
	event  *messages.ModelRegistered
	// last: the callback is consumed; an owned actor can stop after this.
	last bool
}

// book is the registry's models and callbacks. Only the registry actor
// touches it (its mailbox orders registrations); after every change it
// publishes an immutable view, which is all the facade reads.
type book struct {
	view        atomic.Pointer[bookView]
	cat         *catalog.Catalog[*models.Model, callbackTarget]
	contentType *models.Model
	schema      string              // the registry schema, for events
	databases   map[string]bool     // names a model may be bound to
	watched     map[string]struct{} // callback actors being watched
}

// bookView is a snapshot of the book for readers outside the actor.
type bookView struct {
	models      []*models.Model // in registration order
	byName      map[string]*models.Model
	tables      []string
	callbacks   int // the registry's own content-type callback left out
	contentType *models.Model
}

func newBook(schema string, databases map[string]bool) *book {
	b := &book{
		cat:       catalog.New[*models.Model, callbackTarget](),
		schema:    schema,
		databases: databases,
		watched:   map[string]struct{}{},
	}
	b.publish()
	return b
}

// publish makes the book's state the view readers see.
func (b *book) publish() {
	es := b.cat.Models()
	v := &bookView{models: make([]*models.Model, len(es)), byName: make(map[string]*models.Model, len(es)),
		tables: b.cat.TableNames(), callbacks: b.cat.Callbacks(), contentType: b.contentType}
	for i, e := range es {
		v.models[i] = e.Model
		v.byName[e.Model.Name()] = e.Model
	}
	if b.contentType != nil {
		v.callbacks-- // the registry's own content-type callback
	}
	b.view.Store(v)
}

// register validates def, stores it and runs the callbacks it fires: the
// registry's own at once, in order; actors' as deliveries to send, in the
// same order.
func (b *book) register(def *messages.ModelDef, onConflict messages.OnConflict) (catalog.Registration[*models.Model, callbackTarget], []delivery, error) {
	var none catalog.Registration[*models.Model, callbackTarget]
	m, err := models.New(def)
	if err != nil {
		return none, nil, err
	}
	if !b.databases[m.Database()] {
		return none, nil, fmt.Errorf("%w: model %q is bound to %q, which is not configured in extra", messages.ErrUnknownDatabase, m.Name(), m.Database())
	}
	// The registry's own callbacks run before the view is published: no
	// reader sees the model before they have (the content_type column).
	reg, err := b.cat.Register(m, onConflict)
	if err != nil || !reg.Changed {
		return reg, nil, err
	}
	defer b.publish()
	var out []delivery
	for _, cb := range reg.Fire {
		if cb.Target.run != nil {
			cb.Target.run(m)
			continue
		}
		out = append(out, delivery{target: cb.Target, event: b.event(reg.Entry), last: cb.OneTime})
	}
	return reg, out, nil
}

// subscribe stores a callback and lists the events it gets at once.
func (b *book) subscribe(model string, oneTime *bool, t callbackTarget) (catalog.Subscription[*models.Model], []delivery) {
	sub := b.cat.AddCallback(model, oneTime, t)
	b.publish()
	out := make([]delivery, 0, len(sub.Fire))
	for i, e := range sub.Fire {
		out = append(out, delivery{target: t, event: b.event(e), last: !sub.Stored && i == len(sub.Fire)-1})
	}
	return sub, out
}

// unsubscribe drops every callback of an actor that stopped.
func (b *book) unsubscribe(pid *actor.PID) int {
	defer b.publish()
	delete(b.watched, pid.String())
	return b.cat.RemoveCallbacks(func(cb catalog.Callback[callbackTarget]) bool {
		return cb.Target.pid != nil && cb.Target.pid.Equal(pid)
	})
}

// callbacksOf counts the stored callbacks a peer subscribed.
func (b *book) callbacksOf(peer string) int {
	return b.cat.CountCallbacks(func(cb catalog.Callback[callbackTarget]) bool { return cb.Target.peer == peer })
}

// watch reports whether pid is newly watched.
func (b *book) watch(pid *actor.PID) bool {
	if _, ok := b.watched[pid.String()]; ok {
		return false
	}
	b.watched[pid.String()] = struct{}{}
	return true
}

func (b *book) delete(name string) bool {
	defer b.publish()
	return b.cat.Delete(name)
}

func (b *book) event(e catalog.Entry[*models.Model]) *messages.ModelRegistered {
	schema := e.Model.Schema()
	if schema == "" {
		schema = b.schema
	}
	return &messages.ModelRegistered{
		Name: e.Model.Name(), Table: e.Model.Table(), Schema: schema,
		Database: e.Model.Database(), Sequence: e.Sequence,
	}
}

// get and models read the published view, from any goroutine.
func (b *book) get(name string) (*models.Model, bool) {
	m, ok := b.view.Load().byName[name]
	return m, ok
}

func (b *book) models() []*models.Model {
	return append([]*models.Model(nil), b.view.Load().models...)
}
