package sqlite

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// The version file. Every CreateSchema and DropSchema of a file database —
// by any DB, in any process — increments the counter in
// app.db.schemas/.version (8 bytes, the machine's byte order) while it
// holds the exclusive directory lock, after the schema file was created or
// deleted. A DB remembers the counter as of the set it last read from the
// directory, and every connection compares it with the file's whenever
// database/sql hands it out: a different value means another DB or process
// changed the schemas, so the directory is read again (under the shared
// lock) before the connection catches up. On Unix the file is mapped into
// memory once it exists (version_unix.go), so that comparison reads no
// disk and makes no system call; elsewhere it reads the file.
//
// The file is never deleted or replaced: deleting app.db.schemas/ while a
// DB has it open leaves that DB watching a file nobody writes any more.
const (
	versionName = ".version" // never a schema file: '.' is always escaped
	versionSize = 8
)

// stamp is one state of the version file (DB.statVersion): its counter;
// the zero stamp is "no file" (no schema was ever created or dropped by a
// DB that writes it) or one that cannot be read.
type stamp struct {
	n  uint64
	ok bool
}

// bumpVersion increments the counter of the version file at path, creating
// it if need be. Call with the exclusive directory lock held, after the
// change.
func bumpVersion(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	var b [versionSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil && !errors.Is(err, io.EOF) {
		_ = f.Close()
		return err
	}
	binary.NativeEndian.PutUint64(b[:], binary.NativeEndian.Uint64(b[:])+1)
	if _, err := f.WriteAt(b[:], 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// readVersion reads the counter of the version file at path.
func readVersion(path string) stamp {
	f, err := os.Open(path)
	if err != nil {
		return stamp{}
	}
	defer f.Close()
	var b [versionSize]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return stamp{}
	}
	return stamp{n: binary.NativeEndian.Uint64(b[:]), ok: true}
}
