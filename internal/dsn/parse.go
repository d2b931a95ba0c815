package dsn

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Dialect names the database family a URL selects.
type Dialect string

const (
	// Postgres is PostgreSQL through pgx.
	Postgres Dialect = "postgres"
	// SQLite is SQLite through modernc.org/sqlite.
	SQLite Dialect = "sqlite"
)

// DefaultConnectTimeout bounds opening + first ping when the URL sets none.
const DefaultConnectTimeout = 10 * time.Second

// Config is a parsed database URL.
type Config struct {
	// Dialect selects which of Postgres and SQLite is set.
	Dialect Dialect
	// Redacted is the input with every password replaced by "xxxxx" (safe to log / print).
	Redacted string
	// ConnectTimeout bounds opening + first ping. It comes from connect_timeout
	// (whole seconds like libpq, or a Go duration like "500ms"); for PostgreSQL
	// then from PGCONNECT_TIMEOUT; else DefaultConnectTimeout. An explicit
	// connect_timeout=0 means no bound, as in libpq.
	ConnectTimeout time.Duration
	// Echo is Edgy's echo option (log SQL); stored for later use.
	Echo bool
	// Postgres is non-nil iff Dialect == Postgres; built by pgxpool.ParseConfig.
	Postgres *pgxpool.Config
	// SQLite is non-nil iff Dialect == SQLite.
	SQLite *SQLiteConfig

	// secrets are the passwords found while parsing, in every spelling seen
	// (as written, percent-decoded, as re-encoded for pgx).
	secrets []string
}

// Secrets returns every password the config carries (URL userinfo, key=value,
// query param, sslpassword, PGPASSWORD/.pgpass as pgconn resolved them into
// ConnConfig.Password, PGSSLPASSWORD), in each spelling they appeared in, for
// scrubbing error texts with Scrub. Empty strings and duplicates are omitted.
// (pgconn's FallbackConfig has no password field: every fallback host uses
// ConnConfig.Password.)
func (c *Config) Secrets() []string {
	if c == nil {
		return nil
	}
	all := c.secrets
	if c.Postgres != nil && c.Postgres.ConnConfig != nil {
		all = append(all[:len(all):len(all)], c.Postgres.ConnConfig.Password)
	}
	return dedupe(all)
}

// Parse parses a database URL. It accepts SQLAlchemy/Edgy URLs, pgx URLs,
// libpq key=value strings and SQLite "file:" URIs; see the package
// documentation for the full list. Errors are always *ParseError.
func Parse(raw string) (*Config, error) {
	s := strings.TrimSpace(raw)
	redacted, masked := redact(s)
	p := &parser{input: s, secrets: masked}
	cfg, err := p.parse()
	if err != nil {
		secrets := dedupe(p.secrets)
		err.Redacted = Scrub(redacted, secrets...)
		err.Reason = Scrub(err.Reason, secrets...)
		if se, ok := err.Err.(*scrubbedError); ok {
			se.text = Scrub(se.text, secrets...)
		}
		return nil, err
	}
	cfg.Redacted = redacted
	cfg.secrets = dedupe(p.secrets)
	return cfg, nil
}

// parser carries what one Parse call learns along the way.
type parser struct {
	input   string
	secrets []string
}

func (p *parser) addSecret(s ...string) { p.secrets = append(p.secrets, s...) }

func (p *parser) parse() (*Config, *ParseError) {
	s := p.input
	if s == "" {
		return nil, &ParseError{Err: ErrEmpty, Reason: ErrEmpty.Error()}
	}
	// Neither driver can carry a NUL: libpq and SQLite take C strings.
	if strings.IndexByte(s, 0) >= 0 {
		return nil, malformed("contains a NUL byte")
	}
	f, scheme, rest := classify(s)
	switch f {
	case formKV:
		return p.postgresKV(s)
	case formFile:
		return p.sqliteFile(rest)
	case formUnknown:
		return nil, unsupported("want a URL such as postgresql://… or sqlite:///…, a file: URI, or a libpq key=value string")
	}
	if scheme == "" {
		return nil, unsupported("missing scheme before \"://\"")
	}
	base, _, hasDriver := strings.Cut(strings.ToLower(scheme), "+")
	switch {
	case base == "postgres" || base == "postgresql":
		return p.postgresURL(rest)
	case base == "sqlite":
		return p.sqliteURL(rest)
	case base == "file" && !hasDriver:
		return p.sqliteFile("//" + rest)
	}
	return nil, unsupported("unsupported scheme %q (want postgres, postgresql, sqlite or file, optionally with +driver)", scheme)
}

// newConfig fills the fields every dialect shares.
func newConfig(d Dialect, o *options) *Config {
	c := &Config{Dialect: d, Echo: o.echo, ConnectTimeout: DefaultConnectTimeout}
	if o.hasConnectTimeout {
		c.ConnectTimeout = o.connectTimeout
	}
	return c
}

// dedupe drops empty strings and repeats, keeping first occurrences in order.
func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
