//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// versionFile is the version file, kept open once it exists so that the
// check every hand-out of a connection makes is one fstat(2) into a
// Stat_t on the stack: no path to convert, no allocation. The file is only
// ever appended to, never replaced, so its inode stays the one opened.
type versionFile struct {
	f  *os.File
	fd int
}

// statVersion returns the stamp of d's version file.
func (d *DB) statVersion() stamp {
	var st syscall.Stat_t
	if v := d.vfile.Load(); v != nil {
		if syscall.Fstat(v.fd, &st) == nil {
			return toStamp(&st)
		}
		return stamp{}
	}
	// Not there yet (or not opened yet): one stat(2) by path until it
	// exists (converting the path costs one allocation), then open it.
	if syscall.Stat(d.versionPath, &st) != nil {
		return stamp{}
	}
	f, err := os.Open(d.versionPath)
	if err != nil {
		return stamp{}
	}
	v := &versionFile{f: f, fd: int(f.Fd())}
	if !d.vfile.CompareAndSwap(nil, v) || d.closed.Load() {
		_ = f.Close()
		return d.statVersion()
	}
	if syscall.Fstat(v.fd, &st) != nil {
		return stamp{}
	}
	return toStamp(&st)
}

func toStamp(st *syscall.Stat_t) stamp {
	sec, nsec := st.Mtim.Unix()
	return stamp{ino: uint64(st.Ino), size: st.Size, mtime: sec*1e9 + nsec} //nolint:unconvert // Ino is uint32 on some platforms
}

// closeVersion closes the version file, if it was opened.
func (d *DB) closeVersion() {
	if v := d.vfile.Swap(nil); v != nil {
		_ = v.f.Close()
	}
}
