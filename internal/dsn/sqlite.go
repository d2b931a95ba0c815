package dsn

import (
	"net/url"
	"strings"
)

// SQLiteConfig is what database/sql needs to open a SQLite database with
// modernc.org/sqlite.
type SQLiteConfig struct {
	// DSN is what to pass to sql.Open("sqlite", DSN) with modernc.org/sqlite:
	// always a "file:" URI, with the default pragmas added.
	DSN string
	// Path is the file path as given (relative paths stay relative); "" when Memory.
	Path string
	// Memory is true for in-memory databases (":memory:", mode=memory,
	// vfs=memdb) and for SQLite's private temporary database (empty path).
	Memory bool
	// MaxOpenConns is 1 for memory databases (each connection would otherwise be
	// its own database); otherwise pool_size + max_overflow if pool_size is
	// given, else 0 (unlimited).
	MaxOpenConns int
}

// Default pragmas, added unless the URL sets the same pragma itself. The busy
// timeout makes concurrent writers wait instead of failing at once with
// SQLITE_BUSY; foreign keys are off by default in SQLite, on in every server
// database an ORM user expects.
const (
	defaultBusyTimeout = "_pragma=busy_timeout(5000)"
	defaultForeignKeys = "_pragma=foreign_keys(1)"
)

// queryItem is one query parameter: decoded for inspection, raw for the DSN.
type queryItem struct{ key, value, raw string }

// sqliteURL handles the part of a sqlite[+driver] URL after "://", which per
// SQLAlchemy is "/<path>": sqlite:///relative.db, sqlite:////abs/path.db,
// sqlite:// or sqlite:///:memory: for memory. As in SQLAlchemy the path is
// taken literally up to the first '?' (no percent-decoding), and query values
// are form-decoded; a path containing '?' needs a file: URI instead.
func (p *parser) sqliteURL(rest string) (*Config, *ParseError) {
	pathPart, rawQuery, _ := strings.Cut(rest, "?")
	path := ""
	if pathPart != "" {
		host, after, _ := strings.Cut(pathPart, "/")
		if host != "" {
			// Not quoted: it may be user:password.
			return nil, malformed("sqlite URLs take no host or credentials: write sqlite:///relative.db or sqlite:////absolute/path.db")
		}
		path = after
	}
	var items []queryItem
	for _, pair := range strings.Split(rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, value := formDecode(k), formDecode(v)
		items = append(items, queryItem{key, value, escapeQuery(key) + "=" + escapeQuery(value)})
	}

	var dsnPath string
	switch {
	case path == "" || path == ":memory:":
		dsnPath, path = ":memory:", ""
	case strings.HasPrefix(path, "/"):
		// Empty authority, so a path starting with "//" is not read as a host.
		dsnPath = "//" + escapePath(path)
	default:
		dsnPath = escapePath(path)
	}
	return p.sqlite(dsnPath, path, items)
}

// sqliteFile handles a SQLite URI filename after its "file:" prefix. The path
// and query are passed through as written; only registry-only keys are
// removed and default pragmas added.
func (p *parser) sqliteFile(rest string) (*Config, *ParseError) {
	rest, _, _ = strings.Cut(rest, "#") // SQLite ignores the fragment
	rawPath, rawQuery, _ := strings.Cut(rest, "?")
	path := rawPath
	if after, ok := strings.CutPrefix(path, "//"); ok {
		host, p2, hasSlash := strings.Cut(after, "/")
		if host != "" && !strings.EqualFold(host, "localhost") {
			return nil, malformed("file: URIs take no host other than localhost")
		}
		path = ""
		if hasSlash {
			path = "/" + p2
		}
	}
	path = percentDecode(path)
	var items []queryItem
	for _, pair := range strings.Split(rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		items = append(items, queryItem{formDecode(k), formDecode(v), pair})
	}
	if path == ":memory:" {
		path = ""
	}
	return p.sqlite(rawPath, path, items)
}

// sqlite builds the Config shared by both SQLite spellings. path is "" for a
// memory (or other private temporary) database.
func (p *parser) sqlite(dsnPath, path string, items []queryItem) (*Config, *ParseError) {
	var o options
	var kept []string
	var busy, fk, modeMemory, memdb bool
	for _, it := range items {
		handled, err := o.set(SQLite, it.key, it.value)
		if err != nil {
			return nil, err
		}
		if handled {
			continue
		}
		switch it.key {
		case "_pragma":
			name := strings.ToLower(strings.TrimSpace(it.value))
			busy = busy || strings.HasPrefix(name, "busy_timeout")
			fk = fk || strings.HasPrefix(name, "foreign_keys")
		case "_busy_timeout", "_timeout":
			busy = true
		case "_foreign_keys", "_fk":
			fk = true
		case "mode": // SQLite applies the last one
			modeMemory = it.value == "memory"
		case "vfs": // memdb databases are in memory too, private unless named "/…"
			memdb = it.value == "memdb"
		}
		if isPasswordKey(it.key) {
			p.addSecret(it.value, escapeQuery(it.value))
		}
		kept = append(kept, it.raw)
	}
	if !busy {
		kept = append(kept, defaultBusyTimeout)
	}
	if !fk {
		kept = append(kept, defaultForeignKeys)
	}
	query := strings.Join(kept, "&")
	// modernc reads the query with url.ParseQuery when it opens a connection;
	// fail here rather than on first use.
	if _, err := url.ParseQuery(query); err != nil {
		return nil, malformed("query cannot be read by the sqlite driver: %v", err)
	}

	memory := path == "" || modeMemory || memdb
	cfg := newConfig(SQLite, &o)
	sc := &SQLiteConfig{DSN: "file:" + dsnPath + "?" + query, Path: path, Memory: memory}
	switch {
	case memory:
		// A private memory database lives and dies with its one connection, so
		// the pool must never open a second one (or close the first while idle
		// — that is the caller's job: SetConnMaxIdleTime/Lifetime must stay 0).
		sc.Path, sc.MaxOpenConns = "", 1
	case o.hasPoolSize:
		n, err := o.poolMax(0)
		if err != nil {
			return nil, err
		}
		sc.MaxOpenConns = n
	}
	cfg.SQLite = sc
	return cfg, nil
}
