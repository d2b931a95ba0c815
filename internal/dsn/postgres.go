package dsn

import (
	"net"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// registryOnlyKeys are the option keys Parse consumes for PostgreSQL. They are
// deleted from RuntimeParams as a last resort should one ever slip through:
// the server rejects unknown startup parameters, failing every connection.
var registryOnlyKeys = []string{
	"connect_timeout", "echo", "echo_pool", "pool_size", "max_overflow",
	"pool_recycle", "ssl", "isolation_level",
}

// postgresURL handles the part of a postgres[ql][+driver] URL after "://".
// It re-encodes the userinfo so pgx's strict (libpq) URL parser accepts
// SQLAlchemy-style passwords, and strips registry-only query keys.
func (p *parser) postgresURL(rest string) (*Config, *ParseError) {
	var b strings.Builder
	b.WriteString("postgresql://")
	if ui, after, ok := splitUserinfo(rest); ok {
		rawUser, rawPW, hasPW := strings.Cut(ui, ":")
		b.WriteString(escapeStrict(percentDecode(rawUser)))
		if hasPW {
			pw := percentDecode(rawPW)
			enc := escapeStrict(pw)
			p.addSecret(rawPW, pw, enc)
			b.WriteString(":" + enc)
		}
		b.WriteByte('@')
		rest = after
	}

	var o options
	var seen seenKeys
	qi := queryStart(rest)
	if qi < 0 {
		b.WriteString(rest)
		return p.postgres(b.String(), &o, seen)
	}
	b.WriteString(rest[:qi])
	var kept []string
	for _, pair := range strings.Split(rest[qi+1:], "&") {
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		// Decoded like pgconn does, so pass%77ord is still a password.
		key := percentDecode(strings.Trim(rawKey, " "))
		val := percentDecode(rawVal)
		handled, err := o.set(Postgres, key, val)
		if err != nil {
			return nil, err
		}
		if handled {
			continue
		}
		if isPasswordKey(key) {
			p.addSecret(rawVal, val)
		}
		seen.note(key)
		kept = append(kept, pair)
	}
	if o.sslmode != "" && !seen.sslmode {
		kept = append(kept, "sslmode="+o.sslmode)
	}
	if len(kept) > 0 {
		b.WriteString("?" + strings.Join(kept, "&"))
	}
	return p.postgres(b.String(), &o, seen)
}

// postgresKV handles a libpq key=value string: registry-only pairs are cut
// out in place and everything else reaches pgx byte for byte.
func (p *parser) postgresKV(s string) (*Config, *ParseError) {
	pairs, ok := scanKV(s)
	for _, kp := range pairs {
		if isPasswordKey(kp.key) {
			p.addSecret(kp.value, s[kp.valStart:kp.end])
		}
	}
	var o options
	var seen seenKeys
	if !ok {
		// pgx rejects this string; let it say why.
		return p.postgres(s, &o, seen)
	}
	var b strings.Builder
	last := 0
	for _, kp := range pairs {
		handled, err := o.set(Postgres, kp.key, kp.value)
		if err != nil {
			return nil, err
		}
		if handled {
			b.WriteString(s[last:kp.start])
			b.WriteByte(' ')
			last = kp.end
			continue
		}
		seen.note(kp.key)
	}
	b.WriteString(s[last:])
	out := b.String()
	if o.sslmode != "" && !seen.sslmode {
		// Prepended: appended, it would become the value of a trailing
		// "password=" (libpq skips spaces after '=').
		out = "sslmode=" + o.sslmode + " " + out
	}
	return p.postgres(out, &o, seen)
}

// seenKeys records driver keys that interact with registry-only ones.
type seenKeys struct{ sslmode, poolMaxConns bool }

func (s *seenKeys) note(key string) {
	switch key {
	case "sslmode":
		s.sslmode = true
	case "pool_max_conns":
		s.poolMaxConns = true
	}
}

// postgres hands the cleaned connection string to pgxpool and applies the
// registry-only options on top of the result.
func (p *parser) postgres(connString string, o *options, seen seenKeys) (*Config, *ParseError) {
	pc, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, pgxFailure(err)
	}
	cc := pc.ConnConfig
	for _, k := range registryOnlyKeys {
		delete(cc.RuntimeParams, k)
	}
	if v := os.Getenv("PGSSLPASSWORD"); v != "" {
		p.addSecret(v)
	}

	if o.hasPoolSize || o.hasMaxOverflow {
		if o.hasPoolSize && seen.poolMaxConns {
			return nil, malformed("pool_size and pool_max_conns both set the pool size; use one")
		}
		n, err := o.poolMax(int(pc.MaxConns))
		if err != nil {
			return nil, err
		}
		pc.MaxConns = int32(n)
		if pc.MinConns > pc.MaxConns {
			return nil, malformed("pool_min_conns (%d) is larger than pool_size + max_overflow (%d)", pc.MinConns, pc.MaxConns)
		}
	}
	if o.hasPoolRecycle {
		pc.MaxConnLifetime = o.poolRecycle // 0 = never, for pgxpool as for SQLAlchemy's -1
	}
	if o.isolation != "" {
		cc.RuntimeParams["default_transaction_isolation"] = o.isolation
	}

	cfg := newConfig(Postgres, o)
	switch {
	case o.hasConnectTimeout:
		// What pgconn itself does for connect_timeout; Parse consumes the key
		// because pgconn would reject Go durations like "500ms".
		cc.ConnectTimeout = o.connectTimeout
		cc.DialFunc = (&net.Dialer{Timeout: o.connectTimeout}).DialContext
	case cc.ConnectTimeout > 0: // PGCONNECT_TIMEOUT
		cfg.ConnectTimeout = cc.ConnectTimeout
	default:
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.Postgres = pc
	return cfg, nil
}

// pgxFailure turns a pgx parse error into a ParseError. The reason is pgx's
// message without its "cannot parse `<conn string>`: " prefix, since the
// ParseError already shows the (redacted) input. Parse scrubs both texts.
func pgxFailure(err error) *ParseError {
	text := err.Error()
	reason := text
	const prefix = "cannot parse `"
	if rest, ok := strings.CutPrefix(text, prefix); ok {
		if i := strings.Index(rest, "`: "); i >= 0 {
			reason = rest[i+len("`: "):]
		}
	}
	return &ParseError{Err: &scrubbedError{text: text}, Reason: reason}
}
