package dsn

import (
	"cmp"
	"slices"
	"strings"
)

// mask replaces every password. Five x's, like pgconn, so texts from both agree.
const mask = "xxxxx"

// minSecretLen is the shortest secret Scrub replaces: replacing one- or
// two-character strings everywhere would make the text unreadable.
const minSecretLen = 3

// Redact replaces the passwords in a database URL or libpq key=value string
// with "xxxxx": the URL userinfo password, and the values of password and
// sslpassword keys (URL query or key=value). Everything else is kept byte for
// byte. For malformed input it is best effort and errs towards masking more.
func Redact(raw string) string {
	out, _ := redact(raw)
	return out
}

// Scrub replaces every occurrence of each secret in text with "xxxxx". Secrets
// shorter than 3 bytes are ignored. Longer secrets are replaced first so that a
// secret containing another is masked whole.
func Scrub(text string, secrets ...string) string {
	s := slices.Clone(secrets)
	slices.SortStableFunc(s, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, secret := range s {
		if len(secret) >= minSecretLen {
			text = strings.ReplaceAll(text, secret, mask)
		}
	}
	return text
}

// redact is Redact that also returns what it masked, raw and decoded, so Parse
// can scrub those strings out of any error text it reports.
func redact(s string) (string, []string) {
	var r redactor
	switch f, _, rest := classify(s); f {
	case formURL:
		prefix := s[:len(s)-len(rest)]
		return prefix + r.authorityAndQuery(rest), r.masked
	case formFile:
		return "file:" + r.fileQuery(rest), r.masked
	case formKV:
		out, ok := r.kv(s)
		if !ok {
			out = r.stray(out)
		}
		return out, r.masked
	default:
		return r.stray(s), r.masked
	}
}

type redactor struct{ masked []string }

func (r *redactor) secret(raw string) {
	r.masked = append(r.masked, raw, percentDecode(raw), formDecode(raw), unescapeKV(raw))
}

// authorityAndQuery masks the userinfo password and password query values of
// a URL after its "scheme://".
func (r *redactor) authorityAndQuery(rest string) string {
	var b strings.Builder
	if ui, after, ok := splitUserinfo(rest); ok {
		user, pw, hasPW := strings.Cut(ui, ":")
		b.WriteString(user)
		if hasPW {
			b.WriteByte(':')
			if pw != "" {
				r.secret(pw)
				pw = mask
			}
			b.WriteString(pw)
		}
		b.WriteByte('@')
		rest = after
	}
	qi := queryStart(rest)
	if qi < 0 {
		b.WriteString(rest)
		return b.String()
	}
	b.WriteString(rest[:qi+1])
	b.WriteString(r.query(rest[qi+1:]))
	return b.String()
}

// fileQuery masks password query values of a SQLite "file:" URI (the part
// after "file:"), whose query starts at the first '?'.
func (r *redactor) fileQuery(rest string) string {
	path, q, ok := strings.Cut(rest, "?")
	if !ok {
		return rest
	}
	return path + "?" + r.query(q)
}

// query masks the values of password and sslpassword keys in a URL query.
// Keys are compared after decoding and ignoring case: masking a value that
// turns out not to be a password is harmless, missing one is not.
func (r *redactor) query(q string) string {
	pairs := strings.Split(q, "&")
	for i, pair := range pairs {
		rawKey, rawVal, found := strings.Cut(pair, "=")
		if found && rawVal != "" && isPasswordKey(strings.Trim(formDecode(rawKey), " ")) {
			r.secret(rawVal)
			pairs[i] = rawKey + "=" + mask
		}
	}
	return strings.Join(pairs, "&")
}

// kv masks password values in a libpq key=value string. A quoted value keeps
// its quotes so the result still parses the same way. ok is false when the
// string is malformed.
func (r *redactor) kv(s string) (string, bool) {
	pairs, ok := scanKV(s)
	var b strings.Builder
	last := 0
	for _, p := range pairs {
		if !isPasswordKey(p.key) || p.value == "" {
			continue
		}
		raw := s[p.valStart:p.end]
		r.secret(raw)
		r.masked = append(r.masked, p.value)
		b.WriteString(s[last:p.valStart])
		if raw[0] == '\'' {
			b.WriteString("'" + mask + "'")
		} else {
			b.WriteString(mask)
		}
		last = p.end
	}
	b.WriteString(s[last:])
	return b.String(), ok
}

// stray is the fallback for input of no valid form: if it holds an '@', the
// text before it may be "user:password" (user:pw@host, "my sql://u:pw@h"), so
// mask it as URL userinfo.
func (r *redactor) stray(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	prefix, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	}
	return prefix + r.authorityAndQuery(rest)
}

func isPasswordKey(k string) bool {
	return strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword")
}
