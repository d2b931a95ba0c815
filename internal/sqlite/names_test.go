package sqlite

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/ident"
)

// oddNames are valid schema names that are hostile as file names or SQL.
var oddNames = []string{
	`we"ird`,
	`a'b`,
	`x"; DROP TABLE users; --`,
	"semi;colon",
	"sl/ash",
	"..",
	"../../escape",
	`back\slash`,
	"ünïcødé",
	"日本語",
	"Tenant_Mixed",
	"with space",
	"100%",
	"x.db",
	"a.0123456789abcdef.db",
	".lock",
	"tab\tand\nnewline",
	strings.Repeat("a", ident.MaxLen),
	strings.Repeat("€", ident.MaxLen/3), // 63 bytes of 3-byte runes
}

func TestEncodeName(t *testing.T) {
	require.Equal(t, "tenant_a-1", encodeName("tenant_a-1"))
	require.Equal(t, "%54enant", encodeName("Tenant"))
	require.Equal(t, "%2e%2e", encodeName(".."))
	require.Equal(t, "sl%2fash", encodeName("sl/ash"))
	require.Equal(t, "%c3%a9", encodeName("é"))

	for _, name := range append(oddNames, "tenant") {
		require.NoError(t, ident.Validate("schema", name))
		enc := encodeName(name)
		for i := 0; i < len(enc); i++ {
			require.True(t, plain(enc[i]) || enc[i] == '%' || strings.IndexByte(hexDigits, enc[i]) >= 0, "%q", enc)
		}
		require.NotContains(t, enc, "/")
		require.NotContains(t, enc, ".")
		back, ok := decodeName(enc)
		require.True(t, ok, "%q", enc)
		require.Equal(t, name, back)

		fn := schemaFileName(name, "0123456789abcdef")
		require.LessOrEqual(t, len(fn+"-journal"), 255, "file names must fit every file system")
		gotName, gotGen, ok := parseFileName(fn)
		require.True(t, ok, fn)
		require.Equal(t, name, gotName)
		require.Equal(t, "0123456789abcdef", gotGen)
	}
}

func TestDecodeNameRejects(t *testing.T) {
	for _, enc := range []string{
		"%", "%4", "%zz", "%4A", // truncated, not hex, upper-case hex
		"%61",   // 'a' escaped: not canonical
		"A",     // upper case is always escaped
		"a.b",   // '.' is always escaped
		"a b",   // so is ' '
		"%c3%a", // truncated at the end
	} {
		_, ok := decodeName(enc)
		require.False(t, ok, "%q", enc)
	}
}

func TestParseFileNameRejects(t *testing.T) {
	for _, fn := range []string{
		".lock",
		"tenant.0123456789abcdef.db-wal",
		"tenant.0123456789abcdef.db-journal",
		"tenant.db",                                      // no generation
		"tenant.0123456789ABCDEF.db",                     // upper-case generation
		"tenant.0123456789abcde.db",                      // short generation
		".0123456789abcdef.db",                           // empty name
		"%00.0123456789abcdef.db",                        // NUL: not a valid name
		"%ff.0123456789abcdef.db",                        // not UTF-8
		strings.Repeat("a", 64) + ".0123456789abcdef.db", // too long
		"a.b.0123456789abcdef.db",
	} {
		_, _, ok := parseFileName(fn)
		require.False(t, ok, "%q", fn)
	}
}

func TestFoldKey(t *testing.T) {
	require.Equal(t, "tenant", foldKey("TeNaNt"))
	require.Equal(t, "main", foldKey("MAIN"))
	require.Equal(t, "É", foldKey("É"), "SQLite folds ASCII only")
	s := "abc"
	require.Equal(t, s, foldKey(s))
}

// FuzzEncodeName: every valid name round-trips through its file name, and
// two names share a file name only if they are equal.
func FuzzEncodeName(f *testing.F) {
	for _, n := range oddNames {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ident.Validate("schema", name) != nil {
			return
		}
		require.True(t, utf8.ValidString(name))
		fn := schemaFileName(name, "00000000000000ff")
		got, gen, ok := parseFileName(fn)
		require.True(t, ok, "%q", fn)
		require.Equal(t, name, got)
		require.Equal(t, "00000000000000ff", gen)
		require.NotContains(t, fn, "/")
		require.NotContains(t, fn, `\`)
	})
}
