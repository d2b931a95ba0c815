package actors

import (
	"context"
	"fmt"
)

// Hooks are user functions a database actor runs around its pool's life,
// like databasez's connect_hook and disconnect_hook. Both run inside the
// database actor with the request's deadline in ctx; a panic in either is
// recovered and reported as a hook failure. A hook must not call back into
// its database or its registry (Connect, Status, Close, …): the actor is
// busy running the hook, so such a call waits until ctx ends and the request
// fails with a timeout.
type Hooks struct {
	// OnConnect runs on the first connect (0 → 1) before the pool is opened.
	// Its error fails the connect: the count returns to 0 and nothing opens.
	OnConnect func(ctx context.Context) error
	// OnDisconnect runs on the last disconnect (1 → 0, or a forced one)
	// after the pool is closed. Its error is returned, but the database is
	// closed and can be connected again.
	OnDisconnect func(ctx context.Context) error
}

func runHook(ctx context.Context, hook func(context.Context) error) (err error) {
	if hook == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("hook panicked: %v", r)
		}
	}()
	return hook(ctx)
}
