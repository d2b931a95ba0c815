package sqlite

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// memoryFile is what a schema of an in-memory database attaches.
const memoryFile = ":memory:"

// siblings are the files SQLite keeps next to a database file.
var siblings = []string{"-journal", "-wal", "-shm"}

// schema is one schema of the set: a name and the database attached for it.
type schema struct {
	name string // as created (listing shows this spelling)
	key  string // foldKey(name): what SQLite compares
	file string // absolute path of its file, or memoryFile
	gen  string // generation: differs between a dropped schema and its re-creation
}

// schemasDir is where the schemas of the file database at path live:
// "app.db" → "app.db.schemas".
func schemasDir(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return abs + ".schemas", nil
}

// scanDir reads the schemas in dir: the directory is the source of truth,
// whoever created them. A missing directory holds no schemas. Should two
// files claim one name (only by hand: CreateSchema holds the directory lock),
// the first in file-name order wins, so every reader picks the same one.
func scanDir(dir string) (map[string]*schema, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*schema{}, nil
	}
	if err != nil {
		return nil, err
	}
	set := make(map[string]*schema, len(entries))
	for _, e := range entries { // sorted by file name
		if !e.Type().IsRegular() {
			continue
		}
		name, gen, ok := parseFileName(e.Name())
		if !ok {
			continue
		}
		key := foldKey(name)
		if _, dup := set[key]; dup {
			continue
		}
		set[key] = &schema{name: name, key: key, file: filepath.Join(dir, e.Name()), gen: gen}
	}
	return set, nil
}

// removeOrphans deletes -journal/-wal/-shm files whose schema file is gone:
// left behind by a crash, or re-created by a connection that was in use
// while its schema was dropped. Best effort; the caller holds the lock.
func removeOrphans(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		for _, suffix := range siblings {
			base, ok := strings.CutSuffix(e.Name(), suffix)
			if !ok {
				continue
			}
			if _, _, ok := parseFileName(base); !ok {
				continue
			}
			if _, err := os.Lstat(filepath.Join(dir, base)); errors.Is(err, fs.ErrNotExist) {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// removeSchemaFile deletes a schema's file; its siblings go best effort
// (once the file is gone the schema is gone; a leftover is removeOrphans'
// job).
func removeSchemaFile(file string) error {
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, suffix := range siblings {
		_ = os.Remove(file + suffix)
	}
	return nil
}

// newGen returns a fresh generation: 64 random bits, so no two schema files
// ever share a name.
func newGen() (string, error) {
	var b [genLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// attachURI is what ATTACH opens for s. Files are opened as SQLite URIs with
// an explicit mode: mode=rw never creates a file (only CreateSchema does,
// so a schema another process dropped is not brought back empty), and
// mode=ro keeps a read-only main database read-only (SQLite would open an
// attached file read-write otherwise: the main URI's mode is not inherited).
func attachURI(s *schema, readOnly bool) string {
	if s.file == memoryFile {
		return memoryFile
	}
	p := filepath.ToSlash(s.file)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	mode := "rw"
	if readOnly {
		mode = "ro"
	}
	return (&url.URL{Scheme: "file", Path: p, RawQuery: "mode=" + mode}).String()
}
