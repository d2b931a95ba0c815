//go:build unix

package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// versionWatch is how a DB watches its version file on Unix, at no
// system call per check once the file exists: the file is mapped into
// memory (MAP_SHARED: every process sees the writes of every other at once,
// through the page cache) and read with an atomic load. Until it exists,
// a check is one fstat(2) of the main file's directory, kept open, with no
// allocation: the schema directory is a subdirectory of it, and creating
// one raises the directory's link count, which (unlike a timestamp) changes
// with every subdirectory made or removed; only when it changed is the
// version file looked for by path. (A file system that does not count
// subdirectory links — btrfs reports 1 — makes every check look by path.)
type versionWatch struct {
	file atomic.Pointer[versionMap]
	// dirFD is the main file's directory, open, plus one: the zero value
	// (a memory database, a DB that is closed) holds none — never fd 0.
	dirFD atomic.Int64
	// noDir is the directory's link count when the schema directory was
	// last seen missing; 0 when it was not (look by path).
	noDir atomic.Uint64
}

// versionMap is the mapped counter. mu keeps Close from unmapping it under
// a reader.
type versionMap struct {
	mu   sync.RWMutex
	data []byte
}

func (v *versionMap) load() stamp {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.data == nil {
		return stamp{}
	}
	return stamp{n: atomic.LoadUint64((*uint64)(unsafe.Pointer(&v.data[0]))), ok: true}
}

func (v *versionMap) unmap() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.data != nil {
		_ = syscall.Munmap(v.data)
		v.data = nil
	}
}

// openWatch opens the main file's directory for the link-count check.
func (d *DB) openWatch() {
	fd, err := syscall.Open(filepath.Dir(d.dir), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err == nil {
		d.vw.dirFD.Store(int64(fd) + 1)
	}
}

// statVersion returns the counter of d's version file.
func (d *DB) statVersion() stamp {
	if v := d.vw.file.Load(); v != nil {
		return v.load()
	}
	nlink := uint64(0)
	if fd := d.vw.dirFD.Load() - 1; fd >= 0 {
		var st syscall.Stat_t
		if syscall.Fstat(int(fd), &st) == nil && st.Nlink >= 2 {
			nlink = uint64(st.Nlink) //nolint:unconvert // Nlink is uint16 or uint32 on some platforms
			if nlink == d.vw.noDir.Load() {
				return stamp{} // no schema directory made since it was seen missing
			}
		}
	}
	return d.mapVersion(nlink)
}

// mapVersion looks for the version file by path and maps it when it is
// complete; nlink is the directory's link count (0: unknown).
func (d *DB) mapVersion(nlink uint64) stamp {
	f, err := os.Open(d.versionPath)
	if err != nil {
		if _, derr := os.Lstat(d.dir); nlink != 0 && errors.Is(derr, fs.ErrNotExist) {
			d.vw.noDir.Store(nlink)
		} else {
			d.vw.noDir.Store(0)
		}
		return stamp{}
	}
	defer f.Close()
	d.vw.noDir.Store(0)
	if fi, err := f.Stat(); err != nil || fi.Size() < versionSize {
		return stamp{} // being written, under the lock: look again next time
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, versionSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return readVersion(d.versionPath)
	}
	v := &versionMap{data: data}
	if !d.vw.file.CompareAndSwap(nil, v) {
		v.unmap()
	} else if d.closed.Load() {
		d.closeVersion() // Close ran meanwhile: unmap what it could not see
		return stamp{}
	}
	return d.statVersion()
}

// closeVersion unmaps the version file and closes the directory.
func (d *DB) closeVersion() {
	if v := d.vw.file.Swap(nil); v != nil {
		v.unmap()
	}
	if fd := d.vw.dirFD.Swap(0) - 1; fd >= 0 {
		_ = syscall.Close(int(fd))
	}
}
