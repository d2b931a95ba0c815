package sqlite

import "os"

// The version file. Every CreateSchema and DropSchema of a file database —
// by any DB, in any process — appends one byte to app.db.schemas/.version
// while it holds the exclusive directory lock, after the schema file was
// created or deleted. A DB remembers the stamp (size and modification time)
// of the version file as of the set it last read from the directory, and
// every connection checks it, with one stat(2), whenever database/sql hands
// it out: a different stamp means another DB or process changed the
// schemas, so the directory is read again (under the shared lock) before
// the connection catches up. The size only ever grows, so two changes can
// never leave the same stamp behind, whatever the file system's timestamp
// granularity.
const versionName = ".version" // never a schema file: '.' is always escaped

// stamp is one state of the version file (DB.statVersion); the zero stamp
// is "no file": no schema was ever created or dropped by a DB that writes
// it, or it cannot be read.
type stamp struct {
	ino   uint64
	size  int64
	mtime int64
}

// bumpVersion records a change of the schema set in dir's version file.
// path is the version file. Call with the exclusive directory lock held,
// after the change.
func bumpVersion(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte{'+'}); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
