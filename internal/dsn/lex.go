package dsn

import "strings"

// This file holds the lexical rules shared by Parse and Redact. Both must cut
// the input at exactly the same places, or Redact could miss a password that
// Parse found (or hand pgx a password Redact never saw).

// form is the shape of an input string.
type form int

const (
	formUnknown form = iota // none of the below (e.g. "foo")
	formURL                 // scheme://rest, scheme possibly empty
	formFile                // file:... without "//" (a SQLite URI filename)
	formKV                  // libpq key=value
)

// classify decides the shape of s. A URL needs a syntactically valid scheme
// (RFC 3986) before "://", so a key=value string whose value contains "://"
// (password=a://b) is not mistaken for a URL.
func classify(s string) (f form, scheme, rest string) {
	if i := strings.Index(s, "://"); i >= 0 && validScheme(s[:i]) {
		return formURL, s[:i], s[i+3:]
	}
	if strings.HasPrefix(s, "file:") {
		return formFile, "file", s[len("file:"):]
	}
	if strings.Contains(s, "=") {
		return formKV, "", s
	}
	return formUnknown, "", s
}

// validScheme reports whether s is empty or an RFC 3986 scheme. The empty
// scheme ("://x") still counts as a URL so that it is reported as a missing
// scheme and its userinfo is redacted.
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// splitUserinfo splits the part of a URL after "scheme://" into userinfo and
// the rest (host, path, query).
//
// The rule, chosen to accept both SQLAlchemy and pgx spellings:
//
//   - There is userinfo only if there is an '@' and the user name (the text
//     before the first '@' up to its first ':') has no '/'. SQLAlchemy passwords
//     may hold raw '/', '?', '#', so only the user name decides; an '@' in a path
//     or query is then not mistaken for userinfo (postgres://h/db?x=a@b).
//     Nor is a bracketed IPv6 host ([::1]:5432/db?x=a@b, see ipv6Authority).
//   - The userinfo ends at the LAST '@' before the first '/' or '?' that follows
//     the first '@'. So a raw '@' inside a password works (pgx/net/url users:
//     postgres://u:p@ss@host/db), as does a raw '/', '?' or '#' before the last
//     '@' (SQLAlchemy users: postgresql://u:pa/ss?#@host/db).
//   - Ambiguous and unsupported: a password with a raw '@' that is followed later
//     in the password by a raw '/' or '?' (u:a@b/c@host). Like SQLAlchemy we then
//     end the password at the first '@'. Percent-encode '@' as %40 to avoid it.
//
// The pgx parser (libpq rules) only stops at '/', so whenever this returns
// ok=false pgx agrees that there is no userinfo: a password can never reach pgx
// unseen by Redact.
func splitUserinfo(rest string) (userinfo, after string, ok bool) {
	at := strings.IndexByte(rest, '@')
	if at < 0 {
		return "", rest, false
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	if strings.Contains(user, "/") {
		return "", rest, false
	}
	if ipv6Authority(rest[:at]) {
		return "", rest, false
	}
	end := len(rest)
	if j := strings.IndexAny(rest[at+1:], "/?"); j >= 0 {
		end = at + 1 + j
	}
	last := strings.LastIndexByte(rest[:end], '@')
	return rest[:last], rest[last+1:], true
}

// ipv6Authority reports whether pre, the text before the first '@', starts
// with a bracketed IPv6 host, optionally ":port", then '/', '?' or ',', and
// holds a '/': then the '@' is in the path or query. Requiring the '/' keeps
// pgconn in agreement, as it only looks for userinfo before the first '/'.
// A user name "[" with a password like ":1]/…" is misread this way; user
// names starting with '[' are not worth supporting.
func ipv6Authority(pre string) bool {
	if !strings.HasPrefix(pre, "[") {
		return false
	}
	end := strings.IndexByte(pre, ']')
	if end < 0 {
		return false
	}
	addr, _, _ := strings.Cut(pre[1:end], "%") // drop a zone: [fe80::1%25eth0]
	if strings.Count(addr, ":") < 2 || strings.Trim(addr, "0123456789abcdefABCDEF:.") != "" {
		return false
	}
	i := end + 1
	if i < len(pre) && pre[i] == ':' {
		for i++; i < len(pre) && '0' <= pre[i] && pre[i] <= '9'; i++ {
		}
	}
	slash := strings.IndexByte(pre, '/')
	return slash >= 0 && i < len(pre) && strings.IndexByte("/?,", pre[i]) >= 0
}

// queryStart returns the index of the '?' that starts the query in p (a URL
// after its userinfo), or -1. It mirrors pgconn's parser: host and port end at
// '/', '?' or ',', an IPv6 literal in brackets may hold anything, and the path
// ends at the first '?'. '#' is not special in PostgreSQL URLs.
func queryStart(p string) int {
	i := 0
	for {
		if i < len(p) && p[i] == '[' {
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return strings.IndexByte(p, '?')
			}
			i += end + 1
		}
		for i < len(p) && p[i] != '/' && p[i] != '?' && p[i] != ',' {
			i++
		}
		if i < len(p) && p[i] == ',' {
			i++
			continue
		}
		break
	}
	if i == len(p) {
		return -1
	}
	if p[i] == '?' {
		return i
	}
	if j := strings.IndexByte(p[i:], '?'); j >= 0 {
		return i + j
	}
	return -1
}

// percentDecode decodes %XX escapes leniently, like Python's
// urllib.parse.unquote: an invalid escape is kept literally instead of failing.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// formDecode is percentDecode after turning '+' into a space, the rule of
// Python's parse_qsl that SQLAlchemy applies to URL query values.
func formDecode(s string) string {
	return percentDecode(strings.ReplaceAll(s, "+", " "))
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// escapeStrict percent-encodes every byte except RFC 3986 unreserved ones. Used
// for rebuilt userinfo, where libpq's decoder accepts any %XX but rejects raw
// spaces and stops at raw '@' and '/'.
func escapeStrict(s string) string {
	return escape(s, func(c byte) bool { return isUnreserved(c) })
}

// escapeQuery encodes a SQLite DSN query key or value so that both Go's
// url.ParseQuery (used by modernc) and SQLite's URI parser decode it back to s.
// Parentheses, commas and colons stay readable: _pragma=busy_timeout(5000).
func escapeQuery(s string) string {
	return escape(s, func(c byte) bool {
		return isUnreserved(c) || c == '(' || c == ')' || c == ',' || c == ':'
	})
}

// escapePath encodes a file path for a SQLite "file:" URI: '?' and '#' would
// end the path, '%' would start an escape, and controls and spaces are escaped
// to keep the DSN printable. Everything else (including '/') stays as is.
func escapePath(s string) string {
	return escape(s, func(c byte) bool {
		return c > ' ' && c != 0x7f && c != '%' && c != '?' && c != '#'
	})
}

func escape(s string, keep func(byte) bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// kvPair is one keyword=value item of a libpq connection string, with byte
// offsets into the scanned string so callers can cut or mask it in place.
type kvPair struct {
	key        string // keyword as written (trimmed)
	value      string // value with quotes and backslash escapes removed
	start, end int    // whole item, from keyword to end of value
	valStart   int    // raw value, including quotes
}

// scanKV splits a libpq keyword/value string the way pgconn does. ok is false
// where pgconn would reject the string; the pairs are still returned as a best
// effort (a keyword containing spaces is reduced to its last word and an
// unterminated quoted value runs to the end) so Redact can mask them.
func scanKV(s string) (pairs []kvPair, ok bool) {
	ok = true
	i := skipSpace(s, 0)
	for i < len(s) {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return pairs, false
		}
		keyStart, keyEnd := i, i+eq
		raw := s[keyStart:keyEnd]
		key := strings.Trim(raw, asciiSpace)
		keyStart += len(raw) - len(strings.TrimLeft(raw, asciiSpace))
		if key == "" {
			ok = false
		} else if sp := strings.LastIndexAny(key, asciiSpace); sp >= 0 {
			// pgconn rejects a keyword with inner spaces; keep its last word so
			// "junk password=x" still has its password masked.
			ok = false
			keyStart += sp + 1
			key = key[sp+1:]
		}
		j := skipSpace(s, keyEnd+1)
		p := kvPair{key: key, start: keyStart, valStart: j}
		switch {
		case j == len(s):
			p.end = j
		case s[j] != '\'':
			k := j
			for ; k < len(s) && !isSpace(s[k]); k++ {
				if s[k] == '\\' {
					k++
					if k == len(s) {
						break
					}
				}
			}
			p.value, p.end = unescapeKV(s[j:k]), k
		default:
			k := j + 1
			for ; k < len(s) && s[k] != '\''; k++ {
				if s[k] == '\\' {
					k++
				}
			}
			if k >= len(s) {
				ok = false
				p.value, p.end = unescapeKV(s[j+1:]), len(s)
			} else {
				p.value, p.end = unescapeKV(s[j+1:k]), k+1
			}
		}
		pairs = append(pairs, p)
		i = skipSpace(s, p.end)
	}
	return pairs, ok
}

// unescapeKV applies libpq's rule: a backslash makes the next byte literal.
func unescapeKV(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// asciiSpace is the whitespace set libpq and pgconn use in keyword/value strings.
const asciiSpace = " \t\n\r\v\f"

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
