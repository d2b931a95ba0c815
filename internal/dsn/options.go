package dsn

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// options holds the registry-only query keys (Edgy / SQLAlchemy engine
// options). They are removed from the URL before it reaches the driver: a key
// left in a PostgreSQL URL becomes a startup parameter that the server rejects.
type options struct {
	connectTimeout    time.Duration
	hasConnectTimeout bool

	echo bool

	poolSize       int
	hasPoolSize    bool
	maxOverflow    int
	hasMaxOverflow bool

	poolRecycle    time.Duration // 0 means "never" (pool_recycle=-1)
	hasPoolRecycle bool

	sslmode string // from ssl; PostgreSQL only

	isolation string // default_transaction_isolation value, "" to leave alone; PostgreSQL only
}

// set consumes key if it is a registry-only key for dialect d. handled is
// false for every other key, which then stays in the URL.
func (o *options) set(d Dialect, key, value string) (handled bool, err *ParseError) {
	value = strings.TrimSpace(value)
	switch key {
	case "connect_timeout":
		t, err := parseTimeout(key, value)
		if err != nil {
			return true, err
		}
		o.connectTimeout, o.hasConnectTimeout = t, true
	case "pool_timeout":
		// SQLAlchemy's wait for a free connection: pgxpool waits on the
		// caller's context instead. Validated, then dropped.
		if _, err := parseTimeout(key, value); err != nil {
			return true, err
		}
	case "pool_pre_ping":
		// pgxpool already pings connections idle for more than a second, and
		// database/sql checks connections on reuse. Validated, then dropped.
		if _, err := parseBool(key, value); err != nil {
			return true, err
		}
	case "echo", "echo_pool":
		b, err := parseBool(key, value)
		if err != nil {
			return true, err
		}
		if key == "echo" {
			o.echo = b
		}
	case "pool_size":
		n, err := parseCount(key, value, 1)
		if err != nil {
			return true, err
		}
		o.poolSize, o.hasPoolSize = n, true
	case "max_overflow":
		n, err := parseCount(key, value, 0)
		if err != nil {
			return true, err
		}
		o.maxOverflow, o.hasMaxOverflow = n, true
	case "pool_recycle":
		if value == "-1" { // SQLAlchemy's spelling of "never recycle"
			o.poolRecycle, o.hasPoolRecycle = 0, true
			break
		}
		t, err := parseTimeout(key, value)
		if err != nil {
			return true, err
		}
		if t == 0 {
			return true, malformed("%s: want a positive number of seconds or -1 (never), got %q", key, value)
		}
		o.poolRecycle, o.hasPoolRecycle = t, true
	case "ssl":
		if d != Postgres {
			return false, nil
		}
		mode, err := parseSSL(value)
		if err != nil {
			return true, err
		}
		o.sslmode = mode
	case "isolation_level":
		if d != Postgres {
			return false, nil
		}
		level, err := parseIsolation(value)
		if err != nil {
			return true, err
		}
		o.isolation = level
	default:
		return false, nil
	}
	return true, nil
}

// poolMax is pool_size + max_overflow, the most connections SQLAlchemy's
// QueuePool opens. base stands in for pool_size when only max_overflow is set.
func (o *options) poolMax(base int) (int, *ParseError) {
	if o.hasPoolSize {
		base = o.poolSize
	}
	total := int64(base) + int64(o.maxOverflow)
	if total > math.MaxInt32 {
		return 0, malformed("pool_size + max_overflow is too large (%d)", total)
	}
	return int(total), nil
}

// parseTimeout reads libpq-style whole seconds ("10") or a Go duration
// ("500ms", "1m").
func parseTimeout(key, value string) (time.Duration, *ParseError) {
	if n, err := strconv.ParseInt(value, 10, 64); err == nil {
		if n < 0 {
			return 0, malformed("%s: must not be negative, got %q", key, value)
		}
		if n > int64(math.MaxInt64/time.Second) {
			return 0, malformed("%s: too large, got %q", key, value)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil {
		return 0, malformed("%s: want seconds (e.g. 10) or a duration (e.g. 500ms), got %q", key, value)
	}
	if d < 0 {
		return 0, malformed("%s: must not be negative, got %q", key, value)
	}
	return d, nil
}

// parseBool accepts Edgy/SQLAlchemy spellings; a bare "echo" (empty value)
// means true. "debug" is SQLAlchemy's extra-verbose echo, true here.
func parseBool(key, value string) (bool, *ParseError) {
	switch strings.ToLower(value) {
	case "", "1", "t", "true", "y", "yes", "on", "debug":
		return true, nil
	case "0", "f", "false", "n", "no", "off":
		return false, nil
	}
	return false, malformed("%s: want true or false, got %q", key, value)
}

// parseCount reads a non-negative integer of at least min.
func parseCount(key, value string, min int) (int, *ParseError) {
	n, err := strconv.ParseInt(value, 10, 32)
	if err != nil || n < int64(min) {
		return 0, malformed("%s: want an integer >= %d, got %q", key, min, value)
	}
	return int(n), nil
}

// parseSSL maps asyncpg's ssl option to a libpq sslmode: a boolean, or an
// sslmode name, which asyncpg also accepts.
func parseSSL(value string) (string, *ParseError) {
	v := strings.ToLower(value)
	switch v {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
		return v, nil
	}
	on, err := parseBool("ssl", value)
	if err != nil {
		return "", malformed("ssl: want true, false or an sslmode (disable, allow, prefer, require, verify-ca, verify-full), got %q", value)
	}
	if on {
		return "require", nil
	}
	return "disable", nil
}

// parseIsolation maps SQLAlchemy's isolation_level to PostgreSQL's
// default_transaction_isolation. AUTOCOMMIT is every connection's behaviour
// outside an explicit transaction already, so it maps to nothing.
func parseIsolation(value string) (string, *ParseError) {
	v := strings.Join(strings.Fields(strings.NewReplacer("_", " ", "+", " ").Replace(strings.ToLower(value))), " ")
	switch v {
	case "autocommit":
		return "", nil
	case "serializable", "repeatable read", "read committed", "read uncommitted":
		return v, nil
	}
	return "", malformed("isolation_level: want SERIALIZABLE, REPEATABLE READ, READ COMMITTED, READ UNCOMMITTED or AUTOCOMMIT, got %q", value)
}
