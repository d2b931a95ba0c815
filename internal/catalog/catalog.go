package catalog

import (
	"fmt"
	"slices"

	"github.com/dbactor/dbactor/messages"
)

// Model is what the catalog needs to know of a model.
type Model interface {
	Name() string
	Table() string
}

// OnConflict is what Register does when the name is taken (Edgy's on_conflict).
type OnConflict = messages.OnConflict

// The three conflict policies.
const (
	Error   = messages.OnConflict_ON_CONFLICT_ERROR
	Keep    = messages.OnConflict_ON_CONFLICT_KEEP
	Replace = messages.OnConflict_ON_CONFLICT_REPLACE
)

// Callback is a subscription to model registrations. Target is whatever the
// registry delivers to (an actor's PID, an internal function); the catalog
// only stores it.
type Callback[T any] struct {
	// Model is the model's name, "" for every model.
	Model string
	// OneTime callbacks fire once and are dropped.
	OneTime bool
	Target  T
}

// Entry is a registered model and its place in the order of registrations.
type Entry[M Model] struct {
	Model    M
	Sequence uint64
}

// Catalog holds models in registration order and the callbacks waiting for
// them. The zero value is not usable: call New.
type Catalog[M Model, T any] struct {
	models map[string]Entry[M]
	order  []string // registration order of the names in models
	seq    uint64

	oneTime    map[string][]Callback[T]
	persistent map[string][]Callback[T]
}

// New returns an empty catalog.
func New[M Model, T any]() *Catalog[M, T] {
	return &Catalog[M, T]{
		models:     map[string]Entry[M]{},
		oneTime:    map[string][]Callback[T]{},
		persistent: map[string][]Callback[T]{},
	}
}

// CollisionError is a registration under a name already taken, with
// on_conflict Error. It matches messages.ErrModelCollision.
type CollisionError struct{ Name string }

// Error implements error.
func (e *CollisionError) Error() string {
	return fmt.Sprintf("dbactor: a model named %q is already registered", e.Name)
}

// Is makes a CollisionError match messages.ErrModelCollision.
func (e *CollisionError) Is(target error) bool { return target == messages.ErrModelCollision }

// Registration is what Register did.
type Registration[M Model, T any] struct {
	// Entry is the model now registered under the name (for Keep, the old one).
	Entry Entry[M]
	// Changed is false when Keep kept an existing model: nothing was stored
	// and no callback fired.
	Changed bool
	// Replaced is the model Replace deleted first, if any.
	Replaced *Entry[M]
	// replacedAt is where Replaced stood in the order (for Undo).
	replacedAt int
	// Fire lists the callbacks to run for the model, in Edgy's order (K4):
	// one-time for the name (last registered first), one-time for every
	// model (last first), persistent for the name (first registered first),
	// persistent for every model (first first). One-time ones are consumed.
	// It may share the catalog's storage, which the catalog never changes
	// in place (RemoveCallbacks copies a list before it removes from it):
	// it can be read after the catalog changed, from another goroutine
	// (the registry's fan-out), but never changed.
	Fire []Callback[T]
}

// Register stores m under its name and returns the callbacks it fires. The
// model is stored before any callback is chosen, so a callback sees it
// registered (K5).
func (c *Catalog[M, T]) Register(m M, onConflict OnConflict) (Registration[M, T], error) {
	name := m.Name()
	var reg Registration[M, T]
	if old, taken := c.models[name]; taken {
		switch onConflict {
		case Keep:
			return Registration[M, T]{Entry: old}, nil
		case Replace:
			reg.replacedAt = slices.Index(c.order, name)
			c.Delete(name)
			reg.Replaced = &old
		default:
			return reg, &CollisionError{Name: name}
		}
	}
	c.seq++
	e := Entry[M]{Model: m, Sequence: c.seq}
	c.models[name] = e
	if len(c.order) == cap(c.order) {
		// Doubled: append grows a long slice by a quarter, which copies
		// (and leaves for the collector) five times its length in all.
		c.order = slices.Grow(c.order, max(len(c.order), 8))
	}
	c.order = append(c.order, name)
	reg.Entry, reg.Changed = e, true
	// Sized once: registration is the registry actor's hot path, which is
	// also why the lookups skip maps that hold nothing for them.
	all := c.persistent[""]
	n := len(all)
	if len(c.oneTime) > 0 {
		n += len(c.oneTime[name]) + len(c.oneTime[""])
	}
	if len(c.persistent) > 1 || len(all) == 0 && len(c.persistent) > 0 { // lists for names
		n += len(c.persistent[name])
	}
	if n == 0 {
		return reg, nil
	}
	if n == len(all) { // only callbacks for every model, kept: no copy
		reg.Fire = slices.Clip(all)
		return reg, nil
	}
	reg.Fire = make([]Callback[T], 0, n)
	reg.Fire = append(reg.Fire, popAll(c.oneTime, name)...)
	reg.Fire = append(reg.Fire, popAll(c.oneTime, "")...)
	reg.Fire = append(reg.Fire, c.persistent[name]...)
	reg.Fire = append(reg.Fire, c.persistent[""]...)
	return reg, nil
}

// Undo reverses a Register that changed the catalog — a callback the
// registry runs inside the registration failed: the model goes again, a
// model Replace deleted comes back at its place in the order, and the
// one-time callbacks the registration consumed are stored again as they
// were (callbacks stored since stay after them).
func (c *Catalog[M, T]) Undo(reg Registration[M, T]) {
	if !reg.Changed {
		return
	}
	name := reg.Entry.Model.Name()
	if e, ok := c.models[name]; !ok || e.Sequence != reg.Entry.Sequence {
		return // not the registration's model any more
	}
	c.Delete(name)
	if c.seq == reg.Entry.Sequence {
		c.seq--
	}
	if reg.Replaced != nil {
		c.models[name] = *reg.Replaced
		at := min(max(reg.replacedAt, 0), len(c.order))
		c.order = slices.Insert(c.order, at, name)
	}
	var named, all []Callback[T]
	for _, cb := range reg.Fire {
		switch {
		case !cb.OneTime:
		case cb.Model == "":
			all = append(all, cb)
		default:
			named = append(named, cb)
		}
	}
	// Fire holds them last registered first.
	slices.Reverse(named)
	slices.Reverse(all)
	if len(named) > 0 {
		c.oneTime[name] = append(named, c.oneTime[name]...)
	}
	if len(all) > 0 {
		c.oneTime[""] = append(all, c.oneTime[""]...)
	}
}

// popAll empties list key, last in first out.
func popAll[T any](lists map[string][]Callback[T], key string) []Callback[T] {
	l := lists[key]
	delete(lists, key)
	slices.Reverse(l)
	return l
}

// Subscription is what AddCallback did.
type Subscription[M Model] struct {
	// Fire lists the models the callback fires for at once (K2): every
	// registered model in registration order for an all-models callback,
	// the named model if it is registered.
	Fire []Entry[M]
	// Stored reports whether the callback was kept for later registrations
	// (K3): not when it is one-time and fired at once.
	Stored bool
}

// AddCallback subscribes cb. A nil oneTime means Edgy's default (K1):
// one-time for a named model, persistent for every model.
func (c *Catalog[M, T]) AddCallback(model string, oneTime *bool, target T) Subscription[M] {
	cb := Callback[T]{Model: model, OneTime: model != "", Target: target}
	if oneTime != nil {
		cb.OneTime = *oneTime
	}
	var sub Subscription[M]
	if model == "" {
		sub.Fire = c.Models()
	} else if e, ok := c.models[model]; ok {
		sub.Fire = []Entry[M]{e}
	}
	if cb.OneTime && len(sub.Fire) > 0 {
		return sub
	}
	lists := c.persistent
	if cb.OneTime {
		lists = c.oneTime
	}
	lists[model] = append(lists[model], cb)
	sub.Stored = true
	return sub
}

// RemoveCallbacks drops every stored callback drop selects (say, those of
// an actor that stopped) and reports how many it dropped.
func (c *Catalog[M, T]) RemoveCallbacks(drop func(Callback[T]) bool) int {
	n := 0
	for _, lists := range []map[string][]Callback[T]{c.oneTime, c.persistent} {
		for k, l := range lists {
			if !slices.ContainsFunc(l, drop) {
				continue
			}
			// A copy: a registration's Fire may share l.
			kept := slices.DeleteFunc(slices.Clone(l), drop)
			n += len(l) - len(kept)
			if len(kept) == 0 {
				delete(lists, k)
			} else {
				lists[k] = kept
			}
		}
	}
	return n
}

// Callbacks counts the stored callbacks.
func (c *Catalog[M, T]) Callbacks() int {
	return c.CountCallbacks(func(Callback[T]) bool { return true })
}

// CountCallbacks counts the stored callbacks match selects.
func (c *Catalog[M, T]) CountCallbacks(match func(Callback[T]) bool) int {
	n := 0
	for _, lists := range []map[string][]Callback[T]{c.oneTime, c.persistent} {
		for _, l := range lists {
			for _, cb := range l {
				if match(cb) {
					n++
				}
			}
		}
	}
	return n
}

// Get returns the model registered under name.
func (c *Catalog[M, T]) Get(name string) (Entry[M], bool) {
	e, ok := c.models[name]
	return e, ok
}

// Delete removes the model registered under name and reports whether there
// was one (Edgy's delete_model). Its callbacks stay.
func (c *Catalog[M, T]) Delete(name string) bool {
	if _, ok := c.models[name]; !ok {
		return false
	}
	delete(c.models, name)
	c.order = slices.DeleteFunc(c.order, func(n string) bool { return n == name })
	return true
}

// Models returns the registered models in registration order.
func (c *Catalog[M, T]) Models() []Entry[M] {
	out := make([]Entry[M], 0, len(c.order))
	for _, n := range c.order {
		out = append(out, c.models[n])
	}
	return out
}

// Len is the number of registered models.
func (c *Catalog[M, T]) Len() int { return len(c.order) }

// TableNames returns the tables of the registered models, sorted, without
// duplicates (Edgy's get_tablenames is a set).
func (c *Catalog[M, T]) TableNames() []string {
	var out []string
	for _, e := range c.models {
		out = append(out, e.Model.Table())
	}
	slices.Sort(out)
	return slices.Compact(out)
}
