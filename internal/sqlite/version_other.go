//go:build !unix

package sqlite

import "os"

// versionFile is unused where there is no fstat without a path.
type versionFile struct{}

// statVersion stats d's version file with os.Stat.
func (d *DB) statVersion() stamp {
	fi, err := os.Stat(d.versionPath)
	if err != nil {
		return stamp{}
	}
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

func (d *DB) closeVersion() {}
