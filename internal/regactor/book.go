package regactor

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/actors"
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
	// hook is a model hook (RegisterModelHook): a user's func the actor
	// runs inside the registration; its error undoes the registration.
	hook *modelHook
	// peer is the identity of the peer on another node that subscribed
	// it ("" for a local subscription): its callbacks are capped.
	peer string
}

// delivery is one event for one callback actor, fired by a subscription
// (a registration's events go as a registered to the fan-out actor).
type delivery struct {
	target callbackTarget
	event  *messages.ModelRegistered
	// last: the callback is consumed; an owned actor can stop after this.
	last bool
}

// book is the registry's models and callbacks. Only the registry actor
// changes it (its mailbox orders registrations); the facade reads it under
// mu. (An immutable view republished on every change costs O(models) per
// registration: 10 000 registrations took 100 times as long.)
type book struct {
	mu          sync.RWMutex
	cat         *catalog.Catalog[*models.Model, callbackTarget]
	contentType *models.Model
	// sharedCT: contentType is another registry's, in this registry's main
	// database and schema: created with this registry's tables (IF NOT
	// EXISTS), so that their foreign keys resolve, never dropped with them.
	sharedCT bool
	// sharedFrom is the main database of the registry whose content types
	// these are, when they are another registry's.
	sharedFrom *actors.State
	schema     string              // the registry schema, for events
	databases  map[string]bool     // names a model may be bound to
	watched    map[string]struct{} // callback actors being watched
	// hookG is the goroutine running a model hook (under mu), 0 when none:
	// that goroutine reads without taking mu (it holds it already).
	hookG atomic.Uint64
	// scrub removes passwords from the text of a hook's panic.
	scrub func(string) string
}

// catalogCallback is a stored callback of the book.
type catalogCallback = catalog.Callback[callbackTarget]

// rlock read-locks the book, unless the calling goroutine runs a model
// hook and so holds the write lock already (a hook may read the registry).
func (b *book) rlock() (unlock func()) {
	if g := b.hookG.Load(); g != 0 && g == goid() {
		return func() {}
	}
	b.mu.RLock()
	return b.mu.RUnlock
}

func newBook(schema string, databases map[string]bool) *book {
	return &book{
		cat:       catalog.New[*models.Model, callbackTarget](),
		schema:    schema,
		databases: databases,
		watched:   map[string]struct{}{},
		scrub:     func(s string) string { return s },
	}
}

// register validates def, stores it and runs the registry's own callbacks
// and the model hooks it fires, at once, in order. The callback actors it
// fires, in reg.Fire (those without run or hook), are the fan-out actor's
// to send to. A hook that fails (or panics) undoes the registration: the
// book is as it was, nothing is to be delivered, and the error matches
// messages.ErrHookFailed.
func (b *book) register(def *messages.ModelDef, onConflict messages.OnConflict) (reg catalog.Registration[*models.Model, callbackTarget], err error) {
	m, err := models.Adopt(def) // a message's: not changed once sent
	if err != nil {
		return reg, err
	}
	if !b.databases[m.Database()] {
		return reg, fmt.Errorf("%w: model %q is bound to %q, which is not configured in extra", messages.ErrUnknownDatabase, m.Name(), m.Database())
	}
	// The registry's own callbacks run under the lock: no reader sees the
	// model before they have (the content_type column, say).
	b.mu.Lock()
	defer b.mu.Unlock()
	reg, err = b.cat.Register(m, onConflict)
	if err != nil || !reg.Changed {
		return reg, err
	}
	for _, cb := range reg.Fire {
		switch {
		case cb.Target.run != nil:
			cb.Target.run(m)
		case cb.Target.hook != nil:
			if err := b.runHook(cb.Target.hook, m, b.scrub); err != nil {
				b.cat.Undo(reg)
				return catalog.Registration[*models.Model, callbackTarget]{}, err
			}
		}
	}
	return reg, nil
}

// subscribe stores a callback and lists the events it gets at once.
func (b *book) subscribe(model string, oneTime *bool, t callbackTarget) (catalog.Subscription[*models.Model], []delivery) {
	b.mu.Lock()
	sub := b.cat.AddCallback(model, oneTime, t)
	b.mu.Unlock()
	out := make([]delivery, 0, len(sub.Fire))
	for i, e := range sub.Fire {
		out = append(out, delivery{target: t, event: b.event(e), last: !sub.Stored && i == len(sub.Fire)-1})
	}
	return sub, out
}

// unsubscribe drops every callback of an actor that stopped.
func (b *book) unsubscribe(pid *actor.PID) int {
	b.mu.Lock()
	defer b.mu.Unlock()
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
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cat.Delete(name)
}

// event is the ModelRegistered of e.
func (b *book) event(e catalog.Entry[*models.Model]) *messages.ModelRegistered {
	return eventBuilder{schema: b.schema}.event(e)
}

// get, models, tableNames and callbacks read under the lock, from any
// goroutine; only the actor writes (under the lock).
func (b *book) get(name string) (*models.Model, bool) {
	defer b.rlock()()
	e, ok := b.cat.Get(name)
	if !ok && name == models.ContentTypeModel && b.contentType != nil {
		return b.contentType, true // another registry's (Edgy: get_model("ContentType"))
	}
	return e.Model, ok
}

func (b *book) models() []*models.Model {
	defer b.rlock()()
	es := b.cat.Models()
	out := make([]*models.Model, len(es))
	for i, e := range es {
		out[i] = e.Model
	}
	return out
}

func (b *book) tableNames() []string {
	defer b.rlock()()
	return slices.Clone(b.cat.TableNames())
}

// callbacks counts the stored callbacks, the registry's own content-type
// callback left out.
func (b *book) callbacks() int {
	defer b.rlock()()
	n := b.cat.Callbacks()
	if b.contentType != nil { // the content-type callback, own or shared
		n--
	}
	return n
}
