//go:build !unix

package migrate

import (
	"context"
	"sync"
)

var fileLocks sync.Map // path → chan struct{}

// fileLock without flock(2): runs in this process take turns; other
// processes are not excluded.
func fileLock(ctx context.Context, path string) (func(), error) {
	v, _ := fileLocks.LoadOrStore(path, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
