package registry

import (
	"context"
	"errors"
	"time"
)

// Run connects the registry, runs fn and disconnects it again — Edgy's
// `async with registry:` (and with_async_env) as a Go call. If Connect
// fails (all or nothing, a *ConnectError per failed database), fn is not
// called and that error is returned. Otherwise the disconnect always
// happens: when fn returns an error, when fn panics (the panic then
// continues, unchanged, once the registry is disconnected; the disconnect's
// own error is lost with it), and when ctx has ended meanwhile (the
// disconnect keeps only ctx's values and gets a budget of Config.Timeout).
// Run returns errors.Join(fn's error, the disconnect's error).
//
// Runs nest, from any goroutines: each takes one count on every database
// and gives it back, so an inner Run sees the counts at 2 and leaves them at
// 1 — the databases stay open until the outermost Run returns.
func Run(ctx context.Context, r *Registry, fn func(ctx context.Context) error) (err error) {
	if err := r.Connect(ctx); err != nil {
		return err
	}
	// A deferred disconnect, not a recover: a panic (or runtime.Goexit)
	// in fn goes on as it was, with its own stack, after the disconnect.
	defer func() { err = joinErrors(err, r.disconnectOwed(ctx)) }()
	return fn(ctx)
}

// disconnectOwed gives back a count taken by Serve or Run: it must happen
// even when ctx has ended, so it keeps only ctx's values and takes a budget
// of Config.Timeout.
func (r *Registry) disconnectOwed(ctx context.Context) error {
	dctx, cancel := owedContext(ctx, r.caller.Timeout)
	defer cancel()
	return r.Disconnect(dctx)
}

// disconnectOwed gives back the count Database.Run took, as
// Registry.disconnectOwed does.
func (d *Database) disconnectOwed(ctx context.Context) error {
	dctx, cancel := owedContext(ctx, d.caller.Timeout)
	defer cancel()
	_, err := d.Disconnect(dctx)
	return err
}

// owedContext bounds cleanup that must run even though ctx has ended.
func owedContext(ctx context.Context, budget time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), budget)
}

// joinErrors is errors.Join, except that a lone error comes back as it is
// (errors.Join would wrap it), so fn's own error reaches Run's caller
// unchanged when the disconnect succeeds.
func joinErrors(errs ...error) error {
	var last error
	n := 0
	for _, err := range errs {
		if err != nil {
			last = err
			n++
		}
	}
	if n <= 1 {
		return last
	}
	return errors.Join(errs...)
}
