package registry

import (
	"context"
	"fmt"

	"github.com/dbactor/dbactor/internal/request"
	"github.com/dbactor/dbactor/supervisor"
)

// Copy returns a new registry over the same databases (Edgy's
// copy.copy(registry)): it shares every database actor, so the ref counts
// and pools are the same ones, and it has its own models — copies of this
// registry's, each registered again so the copy's own callbacks run for it
// (with Config.WithContentType, the copy gets its own ContentType model and
// content_type references) — and none of this registry's callbacks. The
// copy lives in the same actor system. Its Close gives back what it holds on
// the databases and closes nothing; this registry's Close closes them for
// both. opts may add WithLogger or WithName.
func (r *Registry) Copy(ctx context.Context, opts ...Option) (*Registry, error) {
	if err := r.gate.Enter(); err != nil {
		return nil, err
	}
	defer r.gate.Leave()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dbactor: copy: %w", request.Err(err))
	}
	// The source's logger unless opts name another.
	p := basePlan(r.plan.cfg, append([]Option{WithLogger(r.plan.Logger)}, opts...)...)
	if len(p.opts.shared) > 0 || len(p.opts.hooks) > 0 {
		return nil, &ConfigError{Err: fmt.Errorf("%w: Copy takes WithLogger and WithName only", ErrInvalidConfig)}
	}
	for _, db := range r.order {
		p.opts.shared = append(p.opts.shared, sharedDB{name: db.name, db: db})
		p.Members = append(p.Members, memberOf(db))
	}
	p.noteShared()
	if err := p.Init(r.plan.CopyContentTypes(), r.plan.Plan); err != nil {
		return nil, err
	}
	return start(r.caller.System, p)
}

// memberOf is db as a shared member of another registry's supervisor.
func memberOf(db *Database) supervisor.Member {
	return supervisor.Member{Name: db.name, State: db.state}
}
