// Package dsn parses database URLs into driver configurations.
//
// URLs may be written the way Edgy (SQLAlchemy) users write them or the way
// pgx users write them. Parse returns a *Config for pgxpool or for
// modernc.org/sqlite, and every error is a *ParseError whose text never
// contains a password.
//
// # PostgreSQL (pgx, via pgxpool.ParseConfig)
//
//	postgres://user:pass@host:5432/db?sslmode=disable
//	postgresql://user:pass@host/db
//	postgresql+asyncpg://…, postgresql+psycopg://…, postgresql+psycopg2://…,
//	postgres+anything://… (the +driver suffix is ignored; the scheme is case-insensitive)
//	host=127.0.0.1 port=5432 user=app password='se cret' dbname=app   (libpq key=value:
//	    anything without "://" that contains "=")
//
// In a URL the user name and password are percent-decoded leniently, like
// Python's unquote (an invalid escape such as "%zz" is kept literally), so a
// password may contain raw '*', '#', '?', '/', ' ', ':' and escapes like %40.
// A raw '@' in the password also works (postgres://u:p@ss@host/db): the
// userinfo ends at the last '@' before the host. Only a raw '@' that is
// followed later in the password by a raw '/' or '?' is ambiguous; encode
// that '@' as %40. Everything after the userinfo follows libpq's URL rules.
//
// # SQLite (modernc.org/sqlite, driver name "sqlite")
//
//	sqlite://                       in-memory database
//	sqlite:///:memory:              in-memory database
//	sqlite:///relative.db           Path "relative.db" (relative to the working directory)
//	sqlite:////abs/path.db          Path "/abs/path.db"
//	sqlite+aiosqlite://…, sqlite+pysqlite://… (any +driver suffix)
//	file:app.db?mode=ro             SQLite URI filename, passed through
//	file::memory:, file:x?mode=memory, file:/x?vfs=memdb   in-memory
//
// As in SQLAlchemy, a sqlite:// path is taken literally up to the first '?'
// (it is not percent-decoded); use a file: URI for a path containing '?'.
// SQLiteConfig.DSN is always a file: URI, with the path escaped. Query keys
// that are not registry-only (below) are passed to the driver, e.g.
// _pragma=journal_mode(WAL), _txlock=immediate, mode=ro. Unless the URL sets
// them, two pragmas are added: _pragma=busy_timeout(5000) and
// _pragma=foreign_keys(1). An in-memory database is private to its
// connection, so MaxOpenConns is 1 and every new sql.DB gets a fresh, empty
// database.
//
// # Registry-only query keys
//
// These Edgy / SQLAlchemy engine options are consumed by Parse and never
// reach the driver (PostgreSQL would reject them as unknown startup
// parameters). They work in URLs and, for PostgreSQL, in key=value strings.
//
//	connect_timeout  seconds ("10", libpq style) or a Go duration ("500ms");
//	                 default DefaultConnectTimeout (10s), for PostgreSQL
//	                 PGCONNECT_TIMEOUT first; 0 means no timeout → Config.ConnectTimeout
//	echo             bool, "" means true; default false → Config.Echo
//	echo_pool        bool; default false; accepted and ignored
//	pool_timeout     seconds; accepted and ignored (the caller's context
//	                 bounds waiting for a connection)
//	pool_pre_ping    bool; accepted and ignored (pgxpool pings idle
//	                 connections itself)
//	pool_size        integer >= 1; default: pgxpool's default MaxConns
//	                 (PostgreSQL), unlimited (SQLite file), 1 (SQLite memory)
//	max_overflow     integer >= 0, added to pool_size; default 0.
//	                 PostgreSQL: MaxConns = pool_size + max_overflow.
//	                 SQLite: MaxOpenConns = pool_size + max_overflow (ignored for memory)
//	pool_recycle     seconds or Go duration > 0, or -1 for never; PostgreSQL
//	                 MaxConnLifetime (default pgxpool's 1h); ignored for SQLite
//	ssl              PostgreSQL only: true or "" → sslmode=require,
//	                 false → sslmode=disable, or an sslmode name; an explicit
//	                 sslmode wins; default: libpq's sslmode default (prefer)
//	isolation_level  PostgreSQL only: SERIALIZABLE, REPEATABLE READ,
//	                 READ COMMITTED, READ UNCOMMITTED → startup parameter
//	                 default_transaction_isolation; AUTOCOMMIT → ignored;
//	                 default: the server's default
//
// Booleans accept true/false, 1/0, t/f, yes/no, y/n, on/off (and "debug",
// SQLAlchemy's verbose echo, as true). pool_size together with pgx's own
// pool_max_conns is an error. For SQLite, ssl and isolation_level are not
// registry keys and pass through to the driver, which ignores them.
//
// # Passwords
//
// Config.Redacted and ParseError.Redacted hold the input with every password
// (URL userinfo, password= and sslpassword= in a query or key=value string)
// replaced by "xxxxx". Config.Secrets lists every password the config
// carries, for Scrub-bing driver error texts later.
package dsn
