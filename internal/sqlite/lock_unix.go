//go:build unix

package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an flock(2) on the schema directory's lock file, exclusive
// for CreateSchema and DropSchema, shared for reading the directory, so that
// processes (and several DB values in one process: flock locks belong to the
// open file, not the process) never see or make half-done changes. The
// critical sections only touch the file system and run ATTACH/DETACH on one
// connection, so a blocking lock is fine.
//
// A directory this process cannot write to is read without the lock: whoever
// can write there creates the lock file before any schema file.
func lockDir(dir string, exclusive bool) (unlock func(), err error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil && !exclusive && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
		f, err = os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	fd := int(f.Fd())
	for {
		if err = syscall.Flock(fd, how); !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, &fs.PathError{Op: "flock", Path: path, Err: err}
	}
	return func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
