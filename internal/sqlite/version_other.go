//go:build !unix

package sqlite

// versionWatch is empty where there is no mmap: the file is read instead.
type versionWatch struct{}

func (d *DB) openWatch() {}

// statVersion reads d's version file.
func (d *DB) statVersion() stamp { return readVersion(d.versionPath) }

func (d *DB) closeVersion() {}
