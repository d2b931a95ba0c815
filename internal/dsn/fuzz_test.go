package dsn

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// More seeds, one per accepted form, live in testdata/fuzz/FuzzParse.
var parseSeeds = []string{
	"postgres://u:" + pw + "@h:5432/db",
	"postgresql+asyncpg://u:a#*?/b%40c d@h/db?echo=true&pool_size=5&max_overflow=2",
	"postgres://u:p@ss@h/db?ssl=true&isolation_level=SERIALIZABLE",
	"host=h port=5432 user=u password='se cret' dbname=d connect_timeout=3",
	"postgres://h/db?password=" + pw + "&application_name=a@b",
	"sqlite:///relative.db?_pragma=journal_mode(WAL)",
	"sqlite://",
	"file:x.db?mode=ro&password=" + pw,
	"mysql://u:" + pw + "@h/db",
	"",
}

// FuzzParse: Parse never panics, errors are well-formed, and Redacted masks
// exactly the password positions. The latter is checked by parsing Redacted
// again: it must describe the same connection with every password "xxxxx".
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := Parse(in)
		trimmed := strings.TrimSpace(in)
		if err != nil {
			checkParseError(t, err, trimmed)
			return
		}
		require.Equal(t, Redact(trimmed), cfg.Redacted)
		for _, s := range cfg.Secrets() {
			require.NotEmpty(t, s)
			if len(s) >= minSecretLen {
				// Redaction only removes text, so it cannot add occurrences of a secret.
				require.LessOrEqual(t, countOutsideMask(cfg.Redacted, s), strings.Count(trimmed, s), "secret %q", s)
			}
		}

		switch cfg.Dialect {
		case Postgres:
			require.Nil(t, cfg.SQLite)
			cc := cfg.Postgres.ConnConfig
			for _, k := range registryOnlyKeys {
				require.NotContains(t, cc.RuntimeParams, k)
			}
			require.Equal(t, cfg.ConnectTimeout, cc.ConnectTimeout)
		case SQLite:
			require.Nil(t, cfg.Postgres)
			require.NotNil(t, cfg.SQLite)
		default:
			t.Fatalf("unknown dialect %q", cfg.Dialect)
		}

		// A URL without userinfo can hold an '@' later whose userinfo test
		// depends on a '/' inside a masked query value
		// (postgres://?password=/&x=@). Masking removes that '/', so Redacted
		// then reads differently; it still holds no password, which is all
		// that matters for display, but it cannot serve as an oracle.
		if userinfoShape(trimmed) != userinfoShape(cfg.Redacted) {
			return
		}
		again, err := Parse(cfg.Redacted)
		require.NoError(t, err, "Redacted must still parse: %q", cfg.Redacted)
		require.Equal(t, cfg.Dialect, again.Dialect)
		require.Equal(t, cfg.Echo, again.Echo)
		require.Equal(t, cfg.ConnectTimeout, again.ConnectTimeout)
		if cfg.Dialect == SQLite {
			require.Equal(t, cfg.SQLite.Path, again.SQLite.Path)
			require.Equal(t, cfg.SQLite.Memory, again.SQLite.Memory)
			require.Equal(t, cfg.SQLite.MaxOpenConns, again.SQLite.MaxOpenConns)
			return
		}
		cc, ac := cfg.Postgres.ConnConfig, again.Postgres.ConnConfig
		require.Equal(t, cc.Host, ac.Host)
		require.Equal(t, cc.Port, ac.Port)
		require.Equal(t, cc.Database, ac.Database)
		require.Equal(t, cc.User, ac.User)
		require.Equal(t, len(cc.Fallbacks), len(ac.Fallbacks))
		require.Equal(t, cfg.Postgres.MaxConns, again.Postgres.MaxConns)
		if cc.Password == "" {
			require.Empty(t, ac.Password)
		} else {
			require.Equal(t, mask, ac.Password, "password not masked in %q", cfg.Redacted)
		}
	})
}

// userinfoShape reports whether a URL has userinfo, by the rule Parse uses.
func userinfoShape(s string) bool {
	f, _, rest := classify(s)
	if f != formURL {
		return false
	}
	_, _, ok := splitUserinfo(rest)
	return ok
}

// checkParseError asserts the shape of a Parse error and that nothing Redact
// masked in the input shows up in any of its texts.
func checkParseError(t *testing.T, err error, trimmed string) {
	t.Helper()
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, ErrInvalidDSN)
	require.True(t, errors.Is(err, ErrEmpty) || errors.Is(err, ErrUnsupportedScheme) || errors.Is(err, ErrMalformed), "cause %v", pe.Err)
	// Error() is exactly fixed text + Redacted + Reason, so checking those two
	// covers it (the fixed text itself may contain a short secret: "ase").
	require.Equal(t, ErrInvalidDSN.Error()+" "+strconv.Quote(pe.Redacted)+": "+pe.Reason, err.Error())
	_, masked := redact(trimmed)
	for _, s := range masked {
		if len(s) < minSecretLen {
			continue
		}
		for _, text := range []string{pe.Redacted, pe.Reason, causeText(pe)} {
			require.Zero(t, countOutsideMask(text, s), "%q leaks %q", text, s)
		}
	}
}

// causeText is the text of pe.Err unless it is a sentinel, whose fixed text
// may contain a short secret by accident ("ase" in "database").
func causeText(pe *ParseError) string {
	switch pe.Err {
	case ErrEmpty, ErrUnsupportedScheme, ErrMalformed:
		return ""
	}
	return pe.Err.Error()
}

// countOutsideMask counts the occurrences of s in text that do not overlap an
// "xxxxx" mask: an occurrence that does may have been created by masking
// (text "xxxxx@h" holds the secret "x@h" only because of the mask).
func countOutsideMask(text, s string) int {
	masked := make([]bool, len(text))
	for i := 0; ; {
		j := strings.Index(text[i:], mask)
		if j < 0 {
			break
		}
		for k := i + j; k < i+j+len(mask); k++ {
			masked[k] = true
		}
		i += j + 1
	}
	n := 0
	for i := 0; ; {
		j := strings.Index(text[i:], s)
		if j < 0 {
			return n
		}
		start := i + j
		hit := false
		for k := start; k < start+len(s); k++ {
			hit = hit || masked[k]
		}
		if hit {
			i = start + 1
			continue
		}
		n++
		i = start + len(s)
	}
}

// pctEscape is an independent lenient percent-decoder for FuzzParsePassword's
// oracle (Python's unquote: valid %XX decoded, anything else literal).
var pctEscape = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

func unquote(s string) string {
	return pctEscape.ReplaceAllStringFunc(s, func(m string) string {
		b, _ := strconv.ParseUint(m[1:], 16, 8)
		return string([]byte{byte(b)})
	})
}

// FuzzParsePassword puts a fuzzed password, written raw, into a fixed URL:
// on success it must reach ConnConfig.Password decoded and be masked in
// Redacted; on failure no error text may contain it.
func FuzzParsePassword(f *testing.F) {
	for _, s := range []struct{ user, pw string }{
		{"u", pw},
		{"app", "#*?/@%40 "},
		{"app", "p@ss@word"},
		{"user@srv", "a:b:c"},
		{"u", "100%zz%4"},
		{"u", "sp ace\ttab"},
		{"u", "S3cr3t%00p4ss"},
		{"u%3Ax", "quote'\"\\"},
	} {
		f.Add(s.user, s.pw)
	}
	f.Fuzz(func(t *testing.T, user, password string) {
		const host = "@127.0.0.1:5432/db"
		fixed := "postgresql://" + user + ":" + host
		// Inputs outside the property are uninteresting, not failures: the
		// fuzzer moves on from them.
		switch {
		case len(password) < 4, strings.Contains(fixed, password), strings.Contains(mask, password):
			return // too short, or part of the fixed text
		case strings.ContainsAny(user, ":/"), strings.HasPrefix(user, "["):
			return // the user would change the URL structure (or read as an IPv6 host)
		case ambiguousUserinfo(user + ":" + password):
			return // the documented ambiguity: raw '@' followed by raw '/' or '?'
		}
		in := "postgresql://" + user + ":" + password + host
		cfg, err := Parse(in)
		if err != nil {
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			// Error() quotes Redacted with %q, whose escapes can spell the
			// password by accident (NUL+"00" prints as \x0000), so check its parts.
			require.Equal(t, ErrInvalidDSN.Error()+" "+strconv.Quote(pe.Redacted)+": "+pe.Reason, err.Error())
			for _, text := range []string{pe.Redacted, pe.Reason, causeText(pe)} {
				require.Zero(t, countOutsideMask(text, password), "%q leaks the password", text)
			}
			return
		}
		cc := cfg.Postgres.ConnConfig
		require.Equal(t, unquote(password), cc.Password)
		require.Equal(t, "127.0.0.1", cc.Host)
		require.Equal(t, uint16(5432), cc.Port)
		require.Equal(t, "db", cc.Database)
		if u := unquote(user); u != "" {
			require.Equal(t, u, cc.User)
		}
		require.Equal(t, strings.TrimSpace("postgresql://"+user+":"+mask+host), cfg.Redacted)
		require.Zero(t, countOutsideMask(cfg.Redacted, password))
		require.Contains(t, cfg.Secrets(), password)
		require.Contains(t, cfg.Secrets(), cc.Password)
	})
}

// ambiguousUserinfo reports the one userinfo shape splitUserinfo documents as
// unsupported: an '@' with a '/' or '?' somewhere after it.
func ambiguousUserinfo(ui string) bool {
	at := strings.IndexByte(ui, '@')
	return at >= 0 && strings.ContainsAny(ui[at:], "/?")
}
