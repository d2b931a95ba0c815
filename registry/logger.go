package registry

import (
	"context"
	"log/slog"
)

// defaultLogger logs through whatever slog.Default() is when a record is
// written, not when the registry was made: an application that calls
// slog.SetDefault after New still gets the registry's logs, at their level
// and with their attributes.
func defaultLogger() *slog.Logger { return slog.New(defaultHandler{}) }

// defaultHandler forwards to slog.Default()'s handler, after the attributes
// and groups given to it on the way.
type defaultHandler struct {
	ops []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

func (h defaultHandler) handler() slog.Handler {
	out := slog.Default().Handler()
	for _, op := range h.ops {
		out = op(out)
	}
	return out
}

// Enabled implements slog.Handler.
func (h defaultHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.handler().Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler().Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h defaultHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(func(next slog.Handler) slog.Handler { return next.WithAttrs(attrs) })
}

// WithGroup implements slog.Handler.
func (h defaultHandler) WithGroup(name string) slog.Handler {
	return h.with(func(next slog.Handler) slog.Handler { return next.WithGroup(name) })
}

func (h defaultHandler) with(op func(slog.Handler) slog.Handler) defaultHandler {
	return defaultHandler{ops: append(append([]func(slog.Handler) slog.Handler(nil), h.ops...), op)}
}
