package sqlite

import (
	"strings"

	"github.com/dbactor/dbactor/internal/ident"
)

// Schema file names. A schema's file is
//
//	<encoded name>.<generation>.db
//
// The encoding keeps the bytes [a-z0-9_-] and writes every other byte as
// %xx (lower-case hex), so any name ident.Validate accepts — "/", "..",
// quotes, upper case, unicode — becomes a safe file name that decodes back
// to the exact original spelling. Upper case is escaped too, so the name is
// also safe on case-insensitive file systems. The encoding is canonical
// (decodeName refuses anything encodeName would not produce), so a name has
// exactly one spelling on disk. The generation is 16 random hex digits, new
// for every CreateSchema: a schema dropped and created again gets a new file,
// so a connection still holding the old one (in use during the drop) can
// never touch the new file or its -journal/-wal/-shm siblings.
const (
	fileSuffix = ".db"
	genLen     = 16
	lockName   = ".lock" // never a schema file: '.' is always escaped
)

// reserved schema names in SQLite, compared with foldKey.
const (
	mainSchema = "main"
	tempSchema = "temp"
)

// foldKey is the name SQLite compares schema names by: it folds ASCII
// letters only ("Tenant" and "tenant" collide; "É" and "é" do not).
func foldKey(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}

// plain reports whether c is kept as is in a file name.
func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

const hexDigits = "0123456789abcdef"

// encodeName maps a schema name to the name part of its file name.
func encodeName(name string) string {
	var b strings.Builder
	b.Grow(len(name) * 3)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xf])
	}
	return b.String()
}

// decodeName reverses encodeName; ok is false for anything encodeName would
// not have produced.
func decodeName(enc string) (name string, ok bool) {
	b := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if plain(c) {
			b = append(b, c)
			continue
		}
		if c != '%' || i+2 >= len(enc) {
			return "", false
		}
		hi, lo := strings.IndexByte(hexDigits, enc[i+1]), strings.IndexByte(hexDigits, enc[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		v := byte(hi<<4 | lo)
		if plain(v) {
			return "", false // not canonical
		}
		b = append(b, v)
		i += 2
	}
	return string(b), true
}

// schemaFileName is the file name of one generation of a schema.
func schemaFileName(name, gen string) string {
	return encodeName(name) + "." + gen + fileSuffix
}

// parseFileName reads a directory entry; ok is false for anything that is
// not a schema file (siblings such as -wal, the lock file, strays).
func parseFileName(fn string) (name, gen string, ok bool) {
	rest, found := strings.CutSuffix(fn, fileSuffix)
	if !found {
		return "", "", false
	}
	enc, gen, found := strings.Cut(rest, ".")
	if !found || enc == "" || !isGen(gen) {
		return "", "", false
	}
	name, ok = decodeName(enc)
	if !ok || ident.Validate("schema", name) != nil {
		return "", "", false
	}
	return name, gen, true
}

// isGen reports whether s is a generation: genLen lower-case hex digits.
func isGen(s string) bool {
	if len(s) != genLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(hexDigits, s[i]) < 0 {
			return false
		}
	}
	return true
}
