package regactor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/actors"
	"github.com/dbactor/dbactor/messages"
	"github.com/dbactor/dbactor/models"
	"github.com/dbactor/dbactor/supervisor"
)

// Plan is one registry actor's configuration — validated by the registry
// package, and not changed once Props is called — and the state that
// outlives the actor's instances (pools, counts and models survive a
// restart by a parent's strategy).
type Plan struct {
	// Schema is the registry schema (Config.Schema).
	Schema string
	// Timeout bounds what a request carries no deadline for.
	Timeout time.Duration
	Logger  *slog.Logger
	// Events is the registry's event hook (WithEventHook).
	Events func(messages.Event)
	// Members are the databases: main first, then extras by name.
	Members []supervisor.Member
	// Limits bound what one peer on another node may make the registry
	// keep.
	Limits Limits
	// Systems holds, by name, the actor system of each database shared
	// from another registry: the registry refuses to run in another.
	Systems map[string]*actor.ActorSystem
	// Err, when set, is the invalid configuration: a registry actor
	// spawned from such a plan answers every request with it.
	Err error

	// owner is the registry actor using these States: props spawned a
	// second time refuse to run.
	owner atomic.Pointer[actor.PID]
	// fanOut is the registry actor's fan-out actor: a restarted registry
	// actor takes it over; Close waits for it to stop (WaitFanOut).
	fanOut atomic.Pointer[fanOutRef]
	// closed is set by the registry actor once Close has begun; it
	// survives a restart of that actor. Only the actor's Receive touches
	// it.
	closed bool
	// held counts registry-wide connects not yet matched by a disconnect:
	// what the registry must give back on shared databases when it stops.
	held atomic.Int64
	// book holds the models and callbacks; only the registry actor
	// changes it.
	book *book
	// work counts schema requests under way outside the registry actor:
	// Close lets them finish (and give their counts back) first.
	work sync.WaitGroup
	// migrations answers Migrate requests (ServeMigrations); nil: none
	// are served. Only the registry actor touches it.
	migrations MigrationHandler
	// jobsLife ends every schema job (endJobs) when Close has waited long
	// enough for them.
	jobsLife context.Context
	endJobs  context.CancelFunc
}

// Init makes the model book once the members are set: the content types
// (own, registered with their callback, or another registry's), then the
// models of from (a registry being copied; nil for none).
func (p *Plan) Init(cts ContentTypes, from *Plan) error {
	p.jobsLife, p.endJobs = context.WithCancel(context.Background())
	dbs := map[string]bool{}
	var main *actors.State
	for _, m := range p.Members {
		dbs[m.Name] = true
		if m.Name == "" {
			main = m.State
		}
	}
	p.book = newBook(p.Schema, dbs)
	p.book.scrub = p.Scrub
	if err := p.book.setContentTypes(cts, main); err != nil {
		return err
	}
	if from == nil {
		return nil
	}
	for _, m := range from.book.models() {
		if m == from.book.contentType {
			continue
		}
		if _, err := p.book.register(m.Copy().Def(), messages.OnConflict_ON_CONFLICT_KEEP); err != nil {
			return fmt.Errorf("dbactor: copying model %q: %w", m.Name(), err)
		}
	}
	return nil
}

// CopyContentTypes is what a copy of this registry gets (Edgy's
// __copy__): a copy of its own content-type model, or the same other
// registry's.
func (p *Plan) CopyContentTypes() ContentTypes {
	ct := p.book.contentType
	switch {
	case ct == nil:
		return ContentTypes{}
	case !p.ownsContentType():
		o, _ := owners.Load(weak.Make(ct))
		owner, _ := o.(ctOwner)
		return ContentTypes{Shared: ct, owner: owner}
	}
	return ContentTypes{Own: ct.Copy().Def()}
}

// ownsContentType reports whether the content-type model is registered in
// this registry (not another's).
func (p *Plan) ownsContentType() bool {
	defer p.book.rlock()()
	m, ok := p.book.cat.Get(models.ContentTypeModel)
	return ok && m.Model == p.book.contentType
}

// Model is the model registered under name, from any goroutine.
func (p *Plan) Model(name string) (*models.Model, bool) { return p.book.get(name) }

// Models are the registered models in registration order.
func (p *Plan) Models() []*models.Model { return p.book.models() }

// ContentType is the content-type model, nil without content types.
func (p *Plan) ContentType() *models.Model { return p.book.contentType }

// ContentTypeDialect is the dialect of the database that holds the
// content-type table when it is another registry's ("" when it is this
// registry's own, on its main database).
func (p *Plan) ContentTypeDialect() string {
	if s := p.book.sharedFrom; s != nil {
		return s.Dialect()
	}
	return ""
}

// Callbacks counts the callbacks kept for later registrations.
func (p *Plan) Callbacks() int { return p.book.callbacks() }

// TableNames are the registered models' tables, sorted, each once.
func (p *Plan) TableNames() []string { return p.book.tableNames() }

// waitWork waits up to d for schema requests under way and reports whether
// they all finished.
func (p *Plan) waitWork(d time.Duration) bool {
	done := make(chan struct{})
	go func() { p.work.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Scrub removes the password of every database of the registry from text.
func (p *Plan) Scrub(text string) string {
	for _, m := range p.Members {
		text = m.State.Scrub(text)
	}
	return text
}

// Owned lists the states this registry owns (and closes).
func (p *Plan) Owned() []*actors.State {
	var out []*actors.State
	for _, m := range p.Members {
		if m.Owned {
			out = append(out, m.State)
		}
	}
	return out
}

// sharedNames are the members shared from other registries.
func (p *Plan) sharedNames() []string {
	var out []string
	for _, m := range p.Members {
		if !m.Owned {
			out = append(out, m.Name)
		}
	}
	return out
}
