package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/dbactor/dbactor/internal/healthhttp"
)

// ServeOption adjusts Serve and ListenAndServe.
type ServeOption func(*serveOptions)

type serveOptions struct {
	shutdownTimeout time.Duration
	// health mounts HealthHandler under healthPrefix (WithHealthHandler).
	health       bool
	healthPrefix string
}

// ShutdownTimeout bounds the server's graceful shutdown: how long
// in-flight requests get to finish once the context of Serve ends. When it
// runs out, the connections still open are closed (http.Server.Close) and
// the shutdown error is returned; the registry is disconnected either way.
// Zero or negative means Config.Timeout (client.DefaultTimeout, 30 s, when unset).
func ShutdownTimeout(d time.Duration) ServeOption {
	return func(o *serveOptions) { o.shutdownTimeout = d }
}

// ListenAndServe is Serve on a TCP listener for srv.Addr (":http" when
// empty), opened only once the registry is connected: when Connect fails,
// the address is never bound and the connect error (a *ConnectError per
// failed database) is returned. With WithConnectRetry and WithHealthHandler
// it listens at once instead, so that probes are answered while Connect
// waits (see WithHealthHandler).
func ListenAndServe(ctx context.Context, r *Registry, srv *http.Server, opts ...ServeOption) error {
	o := r.serveOptions(opts)
	early := o.waits(r)
	if !early {
		if err := r.Connect(ctx); err != nil {
			return err
		}
	}
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		err = fmt.Errorf("dbactor: serve: %w", err)
		if early {
			return err
		}
		return joinErrors(err, r.disconnectOwed(ctx))
	}
	return r.serve(ctx, srv, ln, o, !early)
}

// Serve runs srv on ln for as long as ctx lives, with the registry
// connected for the whole time — Edgy's ASGI lifespan (registry.asgi):
//
//  1. r.Connect(ctx) first. If it fails, srv never serves: ln is closed and
//     the connect error is returned.
//  2. srv.Serve(ln) until ctx ends (the normal way to stop) or the server
//     fails.
//  3. srv.Shutdown, bounded by ShutdownTimeout: the listener closes and the
//     requests in flight run to completion, their databases still
//     connected.
//  4. Only then r.Disconnect, with a budget of its own (Config.Timeout) that
//     does not depend on ctx.
//
// Serve returns nil after a clean stop, else the server's failure (never
// http.ErrServerClosed), the shutdown's and the disconnect's, joined. Every
// handler runs while the registry is connected, so Database.DB and
// Database.Pool are never nil in one. Do not make srv.BaseContext return
// ctx (or a context derived from it): ctx ends when the shutdown begins,
// and requests in flight would then be cancelled instead of finishing. For
// TLS, pass a listener from tls.NewListener.
//
// With WithConnectRetry and WithHealthHandler, steps 1 and 2 overlap: srv
// serves at once, answering the probes while Connect waits and every other
// request with 503 Service Unavailable (Retry-After: 1) until the registry
// is connected; if Connect fails, srv shuts down and the error is returned.
func Serve(ctx context.Context, r *Registry, srv *http.Server, ln net.Listener, opts ...ServeOption) error {
	o := r.serveOptions(opts)
	early := o.waits(r)
	if !early {
		if err := r.Connect(ctx); err != nil {
			_ = ln.Close()
			return err
		}
	}
	return r.serve(ctx, srv, ln, o, !early)
}

func (r *Registry) serveOptions(opts []ServeOption) serveOptions {
	o := serveOptions{shutdownTimeout: r.caller.Timeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.shutdownTimeout <= 0 {
		o.shutdownTimeout = r.caller.Timeout
	}
	return o
}

// waits reports a server that answers probes while Connect waits: one with
// both options, whose databases are not all open already (then its own
// Connect only counts, and need not be waited for behind a 503).
func (o serveOptions) waits(r *Registry) bool {
	if !o.health || !r.plan.opts.retry {
		return false
	}
	for _, d := range r.order {
		if !d.state.Connected() {
			return true
		}
	}
	return false
}

// serve serves srv on ln with the registry connected (once) — already, or
// by serve itself when connected is false — and gives that count back after
// the server has shut down.
func (r *Registry) serve(ctx context.Context, srv *http.Server, ln net.Listener, o serveOptions, connected bool) error {
	var ready atomic.Bool
	ready.Store(connected)
	app := srv.Handler
	if app == nil {
		app = http.DefaultServeMux
	}
	if !connected {
		inner := app
		app = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !ready.Load() {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "starting: waiting for the databases", http.StatusServiceUnavailable)
				return
			}
			inner.ServeHTTP(w, req)
		})
	}
	if o.health {
		srv.Handler = healthhttp.Mount(o.healthPrefix, HealthHandler(r), app)
	} else {
		srv.Handler = app
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var serveErr error
	stopped := false
	if !connected {
		cctx, cancel := context.WithCancelCause(ctx)
		connectErr := make(chan error, 1)
		go func() { connectErr <- r.Connect(cctx) }()
		var err error
		select {
		case err = <-connectErr:
		case serveErr = <-served:
			stopped = true
			cancel(fmt.Errorf("the server stopped: %w", serveErr)) // stop waiting for the databases
			err = <-connectErr
		}
		cancel(nil)
		if err != nil {
			return joinErrors(err, r.shutdownServer(ctx, srv, o, served, stopped, serveErr))
		}
		ready.Store(true)
	}
	if !stopped {
		select {
		case <-ctx.Done():
		case serveErr = <-served:
			stopped = true
		}
	}
	return joinErrors(r.shutdownServer(ctx, srv, o, served, stopped, serveErr), r.disconnectOwed(ctx))
}

// shutdownServer shuts srv down, bounded by ShutdownTimeout, and returns
// the server's failure (never http.ErrServerClosed) and the shutdown's.
func (r *Registry) shutdownServer(ctx context.Context, srv *http.Server, o serveOptions, served chan error, stopped bool, serveErr error) error {
	// Shutdown returns once every connection is idle; Serve has returned
	// ErrServerClosed by then (or its own failure, already received).
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	shutdownErr := srv.Shutdown(sctx)
	cancel()
	if shutdownErr != nil {
		// Out of time: close what is still open. Handlers still running
		// see their request contexts cancelled.
		shutdownErr = joinErrors(fmt.Errorf("dbactor: server shutdown: %w", shutdownErr), srv.Close())
	}
	if !stopped {
		serveErr = <-served
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	} else if serveErr != nil {
		serveErr = fmt.Errorf("dbactor: serve: %w", serveErr)
	}
	return joinErrors(serveErr, shutdownErr)
}
