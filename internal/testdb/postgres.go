package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvDSN is the environment variable that holds the DSN of the PostgreSQL
// server the tests use, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. The script
// scripts/ensure-postgres.sh prints a suitable value; `make test` sets it.
const EnvDSN = "DBACTOR_TEST_DATABASE"

// reachTimeout bounds the one reachability check per DSN and process.
const reachTimeout = 5 * time.Second

// reachability caches, per DSN, the result of the first connection attempt,
// so that a process checks each server once, however many tests ask.
var reachability struct {
	mu      sync.Mutex
	results map[string]*reachResult
}

type reachResult struct {
	once sync.Once
	err  error
}

// PostgresDSN returns the DSN in $DBACTOR_TEST_DATABASE after checking, once
// per process, that the server accepts a connection (5 s timeout).
//
// If the variable is unset or empty, or the server is unreachable, the test
// is skipped with a message naming DBACTOR_TEST_DATABASE; when CI=true it
// fails instead, so CI never silently skips PostgreSQL tests. A DSN that
// does not parse always fails the test.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := strings.TrimSpace(os.Getenv(EnvDSN))
	if dsn == "" {
		unavailable(t, "this test needs PostgreSQL: set "+EnvDSN+
			" to the DSN of a reachable server (scripts/ensure-postgres.sh prints one; `make test` sets it)")
		return ""
	}
	if _, err := pgx.ParseConfig(dsn); err != nil {
		t.Fatalf("testdb: %s=%s is not a valid PostgreSQL DSN: %v", EnvDSN, redact(dsn), err)
		return ""
	}
	if err := reachable(dsn); err != nil {
		unavailable(t, fmt.Sprintf("this test needs PostgreSQL, but %s=%s is not reachable: %v",
			EnvDSN, redact(dsn), err))
		return ""
	}
	return dsn
}

// NewPostgresDatabase creates a new, uniquely named, empty database on the
// server of [PostgresDSN] and returns a DSN that points to it, so that a
// test has a database of its own. The database is dropped (WITH (FORCE),
// closing any connections left open) when the test and its subtests end.
// The DBACTOR_TEST_DATABASE user needs the CREATEDB privilege.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	base := PostgresDSN(t)
	if base == "" {
		return "" // only reachable with a testing.TB whose Skip/Fatal return
	}
	name := uniqueDatabaseName(t.Name())
	ident := pgx.Identifier{name}.Sanitize()
	dsn, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("testdb: building a DSN for database %s: %v", name, err)
		return ""
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := execMaintenance(ctx, base, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("testdb: CREATE DATABASE %s on %s: %v (the user needs the CREATEDB privilege)",
			name, redact(base), err)
		return ""
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := execMaintenance(ctx, base, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("testdb: DROP DATABASE %s on %s: %v", name, redact(base), err)
		}
	})
	return dsn
}

// unavailable skips the test, or fails it when CI=true. msg must name
// DBACTOR_TEST_DATABASE.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if inCI() {
		t.Fatal("testdb: " + msg + " (CI=true: PostgreSQL tests must not be skipped)")
		return
	}
	t.Skip("testdb: " + msg)
}

// inCI reports whether $CI is a true boolean ("true", "1", ...).
func inCI() bool {
	ci, err := strconv.ParseBool(strings.TrimSpace(os.Getenv("CI")))
	return err == nil && ci
}

func reachable(dsn string) error {
	reachability.mu.Lock()
	if reachability.results == nil {
		reachability.results = make(map[string]*reachResult)
	}
	r := reachability.results[dsn]
	if r == nil {
		r = &reachResult{}
		reachability.results[dsn] = r
	}
	reachability.mu.Unlock()

	r.once.Do(func() { r.err = ping(dsn) })
	return r.err
}

func ping(dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = reachTimeout
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	return conn.Ping(ctx)
}

// execMaintenance runs one statement on a fresh connection to dsn, retrying
// while the template database is busy (concurrent CREATE DATABASE).
func execMaintenance(ctx context.Context, dsn, sql string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 10 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeConn(conn)

	backoff := 50 * time.Millisecond
	for {
		_, err = conn.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			return err
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-timer.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueDatabaseName derives a valid, unquoted-safe database name (at most
// 63 bytes) from the test name plus 64 random bits.
func uniqueDatabaseName(testName string) string {
	slug := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	if len(slug) > 32 {
		slug = strings.TrimRight(slug[:32], "_")
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return "dbactor_" + slug + "_" + hex.EncodeToString(b[:])
}

// withDatabase returns dsn (URL or keyword/value form) with its database
// replaced by name.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Keyword/value form: a later dbname overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

var kvPassword = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redact hides the password in a DSN for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.User != nil {
		return u.Redacted()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}
