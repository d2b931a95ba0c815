//go:build unix

package migrate

import (
	"context"
	"os"
	"syscall"
)

// fileLock takes an exclusive flock(2) on path (created if missing): it
// excludes other processes and other opens in this one. It waits for the
// holder or for ctx; a wait that ctx ends releases the lock as soon as it
// is granted.
func fileLock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		return func() { _ = syscall.Flock(fd, syscall.LOCK_UN); _ = f.Close() }, nil
	}
	got := make(chan error, 1)
	go func() { got <- syscall.Flock(fd, syscall.LOCK_EX) }()
	select {
	case err := <-got:
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		return func() { _ = syscall.Flock(fd, syscall.LOCK_UN); _ = f.Close() }, nil
	case <-ctx.Done():
		go func() {
			if <-got == nil {
				_ = syscall.Flock(fd, syscall.LOCK_UN)
			}
			_ = f.Close()
		}()
		return nil, context.Cause(ctx)
	}
}
