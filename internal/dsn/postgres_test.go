package dsn

import (
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pw is a distinctive password: any error text containing it is a leak.
const pw = "S3cr3t-p4ss"

// pgWant is what a PostgreSQL test case expects; zero fields are not checked
// except Password, which is always checked.
type pgWant struct {
	host, database, user, password string
	port                           uint16
}

func TestParsePostgresForms(t *testing.T) {
	std := pgWant{host: "db.example.com", port: 5433, database: "app", user: "app", password: pw}
	cases := []struct {
		name string
		in   string
		want pgWant
	}{
		{"postgres", "postgres://app:" + pw + "@db.example.com:5433/app", std},
		{"postgresql", "postgresql://app:" + pw + "@db.example.com:5433/app", std},
		{"asyncpg", "postgresql+asyncpg://app:" + pw + "@db.example.com:5433/app", std},
		{"psycopg", "postgresql+psycopg://app:" + pw + "@db.example.com:5433/app", std},
		{"psycopg2", "postgresql+psycopg2://app:" + pw + "@db.example.com:5433/app", std},
		{"postgres+anything", "postgres+anything://app:" + pw + "@db.example.com:5433/app", std},
		{"scheme case", "PostgreSQL+AsyncPG://app:" + pw + "@db.example.com:5433/app", std},
		{"surrounding space", "  postgres://app:" + pw + "@db.example.com:5433/app\n", std},
		{"default port", "postgres://app:" + pw + "@db.example.com/app", pgWant{host: "db.example.com", port: 5432, database: "app", user: "app", password: pw}},
		{"no userinfo", "postgres://localhost/app", pgWant{host: "localhost", database: "app"}},
		{"user only", "postgres://app@localhost/app", pgWant{host: "localhost", user: "app"}},
		{"empty password", "postgres://app:@localhost/app", pgWant{host: "localhost", user: "app"}},
		{"ipv6", "postgres://app:" + pw + "@[::1]:6000/app", pgWant{host: "::1", port: 6000, user: "app", password: pw}},
		{"query password", "postgres://app@localhost/app?password=" + pw, pgWant{user: "app", password: pw}},
		{"query password overrides", "postgres://app:old@localhost/app?password=" + pw, pgWant{password: pw}},
		{"at in query, no userinfo", "postgres://localhost/app?application_name=me@corp", pgWant{host: "localhost", database: "app"}},
		{"at in query with userinfo", "postgres://app:" + pw + "@localhost/app?application_name=me@corp", pgWant{host: "localhost", user: "app", password: pw}},
		{"azure user@server", "postgres://app@srv:" + pw + "@srv.postgres.example.com/app", pgWant{host: "srv.postgres.example.com", user: "app@srv", password: pw}},
		// SQLAlchemy: raw '#', '*', '?', '/', spaces and %-escapes in the password.
		{"sqlalchemy raw specials", "postgresql+asyncpg://app:a#*?/b%40c d@localhost:5432/app", pgWant{host: "localhost", port: 5432, database: "app", user: "app", password: "a#*?/b@c d"}},
		{"sqlalchemy invalid escape kept", "postgresql://app:100%zz%4@localhost/app", pgWant{host: "localhost", password: "100%zz%4"}},
		{"sqlalchemy plus is literal", "postgresql://app:a+b@localhost/app", pgWant{password: "a+b"}},
		// pgx users with a raw '@' (net/url took the last '@').
		{"pgx raw at", "postgres://app:p@ss@localhost/app", pgWant{host: "localhost", database: "app", user: "app", password: "p@ss"}},
		{"supabase style", "postgresql://postgres.abc:1@Something11@Anything1@aws.pooler.supabase.com:6543/postgres", pgWant{host: "aws.pooler.supabase.com", port: 6543, database: "postgres", user: "postgres.abc", password: "1@Something11@Anything1"}},
		{"raw at and query", "postgres://app:p@ss@localhost/app?application_name=x@y", pgWant{host: "localhost", password: "p@ss"}},
		// Documented ambiguity: a raw '@' followed by a raw '/' in the password.
		// Like SQLAlchemy, the password then ends at the first '@'.
		{"ambiguous raw at then slash", "postgres://app:p@x/y@localhost/app", pgWant{host: "x", database: "y@localhost/app", password: "p"}},
		{"ipv6 at in query", "postgres://[::1]:5432/app?application_name=me@corp", pgWant{host: "::1", port: 5432, database: "app"}},
		{"ipv6 no port at in path", "postgres://[::1]/a@b", pgWant{host: "::1", database: "a@b"}},
		{"bracket user", "postgres://[:0/00@localhost/app", pgWant{host: "localhost", user: "[", password: "0/00"}},
		{"bracket user not ipv6", "postgres://[:00]/@localhost/app", pgWant{host: "localhost", user: "[", password: "00]/"}},
		{"ipv6 zone at in query", "postgres://[fe80::1%25eth0]:5432/app?application_name=a@b", pgWant{host: "fe80::1%eth0", database: "app"}},
		{"colon in password", "postgres://app:a:b:c@localhost/app", pgWant{user: "app", password: "a:b:c"}},
		{"encoded user", "postgres://a%2Fb%3Ac:" + pw + "@localhost/app", pgWant{user: "a/b:c", password: pw}},
		// libpq key=value.
		{"kv", "host=127.0.0.1 port=5432 user=app password='se cret' dbname=app", pgWant{host: "127.0.0.1", port: 5432, database: "app", user: "app", password: "se cret"}},
		{"kv unquoted", "host=127.0.0.1 user=app password=" + pw + " dbname=app", pgWant{host: "127.0.0.1", user: "app", password: pw}},
		{"kv escapes", `host=h password='it\'s a \\ test'`, pgWant{host: "h", password: `it's a \ test`}},
		{"kv unix socket", "host=/var/run/postgresql dbname=app", pgWant{host: "/var/run/postgresql", database: "app"}},
		{"kv value with ://", "host=h password=a://b@c", pgWant{host: "h", password: "a://b@c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, Postgres, cfg.Dialect)
			require.NotNil(t, cfg.Postgres)
			require.Nil(t, cfg.SQLite)
			cc := cfg.Postgres.ConnConfig
			require.Equal(t, tc.want.password, cc.Password)
			if tc.want.host != "" {
				require.Equal(t, tc.want.host, cc.Host)
			}
			if tc.want.port != 0 {
				require.Equal(t, tc.want.port, cc.Port)
			}
			if tc.want.database != "" {
				require.Equal(t, tc.want.database, cc.Database)
			}
			if tc.want.user != "" {
				require.Equal(t, tc.want.user, cc.User)
			}
			require.Equal(t, DefaultConnectTimeout, cfg.ConnectTimeout)
			require.Equal(t, DefaultConnectTimeout, cc.ConnectTimeout)
			require.False(t, cfg.Echo)
			if tc.want.password != "" && len(tc.want.password) >= minSecretLen {
				require.NotContains(t, cfg.Redacted, tc.want.password)
				require.Contains(t, cfg.Secrets(), tc.want.password)
			}
		})
	}
}

func TestParsePostgresMultiHost(t *testing.T) {
	cfg, err := Parse("postgresql+asyncpg://u:" + pw + "@h1:5432,h2:5433/db?sslmode=disable")
	require.NoError(t, err)
	cc := cfg.Postgres.ConnConfig
	require.Equal(t, "h1", cc.Host)
	require.Len(t, cc.Fallbacks, 1)
	require.Equal(t, "h2", cc.Fallbacks[0].Host)
	require.Equal(t, uint16(5433), cc.Fallbacks[0].Port)
	require.Equal(t, pw, cc.Password)
}

// TestPasswordRoundTrip: a password with every troublesome character reaches
// ConnConfig.Password intact, however it is spelled.
func TestPasswordRoundTrip(t *testing.T) {
	const p = "#*?/@%40 "
	cases := []struct{ name, in, want string }{
		// Fully percent-encoded, as url.UserPassword or quote_plus would write it.
		{"encoded", "postgresql://u:" + escapeStrict(p) + "@h:5432/db", p},
		{"url.UserPassword", "postgresql://" + url.UserPassword("u", p).String() + "@h:5432/db", p},
		// Raw, SQLAlchemy style: %40 is an escape, so it decodes to '@'.
		{"raw sqlalchemy", "postgresql+asyncpg://u:" + p + "@h:5432/db", "#*?/@@ "},
		{"query param", "postgresql://u@h:5432/db?password=" + url.PathEscape(p), p},
		{"kv quoted", "host=h user=u password='" + p + "'", p},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg.Postgres.ConnConfig.Password)
			require.Equal(t, "h", cfg.Postgres.ConnConfig.Host)
			require.Equal(t, "u", cfg.Postgres.ConnConfig.User)
			require.NotContains(t, cfg.Redacted, "#*?/")
			require.Contains(t, cfg.Redacted, mask)
		})
	}
}

func TestParsePostgresRegistryKeys(t *testing.T) {
	in := "postgresql+asyncpg://u:" + pw + "@h/db?echo=true&echo_pool=1&pool_size=7&max_overflow=3" +
		"&pool_recycle=1800&ssl=false&isolation_level=READ COMMITTED&connect_timeout=3&application_name=svc"
	cfg, err := Parse(in)
	require.NoError(t, err)
	pc := cfg.Postgres
	rp := pc.ConnConfig.RuntimeParams
	for _, k := range registryOnlyKeys {
		require.NotContains(t, rp, k)
	}
	require.Equal(t, map[string]string{
		"application_name":              "svc",
		"default_transaction_isolation": "read committed",
	}, rp)
	require.True(t, cfg.Echo)
	require.Equal(t, int32(10), pc.MaxConns)
	require.Equal(t, 30*time.Minute, pc.MaxConnLifetime)
	require.Nil(t, pc.ConnConfig.TLSConfig, "ssl=false means sslmode=disable")
	require.Empty(t, pc.ConnConfig.Fallbacks)
	require.Equal(t, 3*time.Second, cfg.ConnectTimeout)
	require.Equal(t, 3*time.Second, pc.ConnConfig.ConnectTimeout)
	require.Equal(t, pw, pc.ConnConfig.Password)
	require.Equal(t, "postgresql+asyncpg://u:xxxxx@h/db?echo=true&echo_pool=1&pool_size=7&max_overflow=3"+
		"&pool_recycle=1800&ssl=false&isolation_level=READ COMMITTED&connect_timeout=3&application_name=svc", cfg.Redacted)
}

func TestParsePostgresKVRegistryKeys(t *testing.T) {
	in := "host=h dbname=d echo=true pool_size=3 ssl=true isolation_level='REPEATABLE READ' connect_timeout=2 password='" + pw + "' application_name=svc"
	cfg, err := Parse(in)
	require.NoError(t, err)
	cc := cfg.Postgres.ConnConfig
	require.Equal(t, map[string]string{
		"application_name":              "svc",
		"default_transaction_isolation": "repeatable read",
	}, cc.RuntimeParams)
	require.True(t, cfg.Echo)
	require.Equal(t, int32(3), cfg.Postgres.MaxConns)
	require.NotNil(t, cc.TLSConfig, "ssl=true means sslmode=require")
	require.Empty(t, cc.Fallbacks, "require has no plaintext fallback")
	require.Equal(t, 2*time.Second, cfg.ConnectTimeout)
	require.Equal(t, 2*time.Second, cc.ConnectTimeout)
	require.Equal(t, pw, cc.Password)
	require.Equal(t, "d", cc.Database)
	require.Equal(t, "host=h dbname=d echo=true pool_size=3 ssl=true isolation_level='REPEATABLE READ' connect_timeout=2 password='xxxxx' application_name=svc", cfg.Redacted)
}

func TestParsePostgresOptions(t *testing.T) {
	base := "postgres://u:" + pw + "@h/db?"
	defaultMax := int32(max(4, runtime.NumCPU()))
	cases := []struct {
		name  string
		query string
		check func(t *testing.T, cfg *Config)
	}{
		{"ssl true", "ssl=true", func(t *testing.T, c *Config) {
			require.NotNil(t, c.Postgres.ConnConfig.TLSConfig)
			require.Empty(t, c.Postgres.ConnConfig.Fallbacks)
		}},
		{"ssl empty", "ssl=", func(t *testing.T, c *Config) {
			require.NotNil(t, c.Postgres.ConnConfig.TLSConfig)
			require.Empty(t, c.Postgres.ConnConfig.Fallbacks)
		}},
		{"ssl sslmode name", "ssl=disable", func(t *testing.T, c *Config) {
			require.Nil(t, c.Postgres.ConnConfig.TLSConfig)
		}},
		{"explicit sslmode wins over ssl", "ssl=true&sslmode=disable", func(t *testing.T, c *Config) {
			require.Nil(t, c.Postgres.ConnConfig.TLSConfig)
		}},
		{"default sslmode prefer", "", func(t *testing.T, c *Config) {
			require.NotNil(t, c.Postgres.ConnConfig.TLSConfig)
			require.Len(t, c.Postgres.ConnConfig.Fallbacks, 1)
		}},
		{"isolation serializable", "isolation_level=SERIALIZABLE", func(t *testing.T, c *Config) {
			require.Equal(t, "serializable", c.Postgres.ConnConfig.RuntimeParams["default_transaction_isolation"])
		}},
		{"isolation underscore", "isolation_level=repeatable_read", func(t *testing.T, c *Config) {
			require.Equal(t, "repeatable read", c.Postgres.ConnConfig.RuntimeParams["default_transaction_isolation"])
		}},
		{"isolation encoded", "isolation_level=READ%20UNCOMMITTED", func(t *testing.T, c *Config) {
			require.Equal(t, "read uncommitted", c.Postgres.ConnConfig.RuntimeParams["default_transaction_isolation"])
		}},
		{"isolation autocommit", "isolation_level=AUTOCOMMIT", func(t *testing.T, c *Config) {
			require.Empty(t, c.Postgres.ConnConfig.RuntimeParams)
		}},
		{"echo bare", "echo", func(t *testing.T, c *Config) { require.True(t, c.Echo) }},
		{"echo empty", "echo=", func(t *testing.T, c *Config) { require.True(t, c.Echo) }},
		{"echo 1", "echo=1", func(t *testing.T, c *Config) { require.True(t, c.Echo) }},
		{"echo false", "echo=false", func(t *testing.T, c *Config) { require.False(t, c.Echo) }},
		{"echo last wins", "echo=true&echo=0", func(t *testing.T, c *Config) { require.False(t, c.Echo) }},
		{"pool_size only", "pool_size=5", func(t *testing.T, c *Config) { require.Equal(t, int32(5), c.Postgres.MaxConns) }},
		{"max_overflow only", "max_overflow=2", func(t *testing.T, c *Config) {
			require.Equal(t, defaultMax+2, c.Postgres.MaxConns)
		}},
		{"pool_max_conns native", "pool_max_conns=9", func(t *testing.T, c *Config) { require.Equal(t, int32(9), c.Postgres.MaxConns) }},
		{"pool_recycle duration", "pool_recycle=90s", func(t *testing.T, c *Config) {
			require.Equal(t, 90*time.Second, c.Postgres.MaxConnLifetime)
		}},
		{"pool_recycle never", "pool_recycle=-1", func(t *testing.T, c *Config) {
			require.Zero(t, c.Postgres.MaxConnLifetime)
		}},
		{"pool_recycle default", "", func(t *testing.T, c *Config) {
			require.Equal(t, time.Hour, c.Postgres.MaxConnLifetime)
		}},
		{"connect_timeout seconds", "connect_timeout=15", func(t *testing.T, c *Config) {
			require.Equal(t, 15*time.Second, c.ConnectTimeout)
			require.Equal(t, 15*time.Second, c.Postgres.ConnConfig.ConnectTimeout)
		}},
		{"connect_timeout duration", "connect_timeout=500ms", func(t *testing.T, c *Config) {
			require.Equal(t, 500*time.Millisecond, c.ConnectTimeout)
			require.Equal(t, 500*time.Millisecond, c.Postgres.ConnConfig.ConnectTimeout)
		}},
		{"connect_timeout zero is no bound", "connect_timeout=0", func(t *testing.T, c *Config) {
			require.Zero(t, c.ConnectTimeout)
			require.Zero(t, c.Postgres.ConnConfig.ConnectTimeout)
		}},
		{"encoded key still consumed", "ech%6F=1", func(t *testing.T, c *Config) {
			require.True(t, c.Echo)
			require.Empty(t, c.Postgres.ConnConfig.RuntimeParams)
		}},
		{"other params kept", "application_name=svc&search_path=a,b", func(t *testing.T, c *Config) {
			require.Equal(t, map[string]string{"application_name": "svc", "search_path": "a,b"}, c.Postgres.ConnConfig.RuntimeParams)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(base + tc.query)
			require.NoError(t, err)
			for _, k := range registryOnlyKeys {
				require.NotContains(t, cfg.Postgres.ConnConfig.RuntimeParams, k)
			}
			tc.check(t, cfg)
		})
	}
}

func TestParsePostgresEnv(t *testing.T) {
	t.Run("PGCONNECT_TIMEOUT", func(t *testing.T) {
		t.Setenv("PGCONNECT_TIMEOUT", "7")
		cfg, err := Parse("postgres://h/db")
		require.NoError(t, err)
		require.Equal(t, 7*time.Second, cfg.ConnectTimeout)
		require.Equal(t, 7*time.Second, cfg.Postgres.ConnConfig.ConnectTimeout)

		cfg, err = Parse("postgres://h/db?connect_timeout=2")
		require.NoError(t, err)
		require.Equal(t, 2*time.Second, cfg.ConnectTimeout, "the URL beats the environment")
	})
	t.Run("PGPASSWORD", func(t *testing.T) {
		t.Setenv("PGPASSWORD", "env-"+pw)
		cfg, err := Parse("postgres://u@h/db")
		require.NoError(t, err)
		require.Equal(t, "env-"+pw, cfg.Postgres.ConnConfig.Password)
		require.Equal(t, []string{"env-" + pw}, cfg.Secrets())
	})
	t.Run("pgpass", func(t *testing.T) {
		passfile := filepath.Join(t.TempDir(), "pgpass")
		require.NoError(t, os.WriteFile(passfile, []byte("h:5432:db:u:pgpass-"+pw+"\n"), 0o600))
		t.Setenv("PGPASSFILE", passfile)
		cfg, err := Parse("postgres://u@h:5432/db")
		require.NoError(t, err)
		require.Equal(t, []string{"pgpass-" + pw}, cfg.Secrets())
	})
	t.Run("PGSSLPASSWORD", func(t *testing.T) {
		t.Setenv("PGSSLPASSWORD", "ssl-"+pw)
		cfg, err := Parse("postgres://u@h:5432/db")
		require.NoError(t, err)
		require.Equal(t, []string{"ssl-" + pw}, cfg.Secrets())
	})
}

func TestSecrets(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"url", "postgres://u:" + pw + "@h/db", []string{pw}},
		{"url encoded", "postgres://u:p%40ss%20w@h/db", []string{"p%40ss%20w", "p@ss w"}},
		{"kv quoted", "host=h password='se cret'", []string{"'se cret'", "se cret"}},
		{"query", "postgres://u@h/db?password=" + pw + "&sslpassword=k3y-pass", []string{pw, "k3y-pass"}},
		{"none", "postgres://u@h/db", []string{}},
		{"sqlite", "sqlite:///x.db", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.in)
			require.NoError(t, err)
			got := cfg.Secrets()
			require.NotNil(t, got)
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
			if len(tc.want) == 0 {
				require.Empty(t, got)
			}
			for _, s := range got {
				require.NotEmpty(t, s)
			}
		})
	}
	var nilCfg *Config
	require.Nil(t, nilCfg.Secrets())
}

// SQLAlchemy engine keys that pgx has no use for are dropped, never sent to
// the server as startup parameters.
func TestIgnoredEngineKeysRemoved(t *testing.T) {
	c, err := Parse("postgresql+asyncpg://u@h/db?pool_timeout=30&pool_pre_ping=true&application_name=x")
	require.NoError(t, err)
	require.NotContains(t, c.Postgres.ConnConfig.RuntimeParams, "pool_timeout")
	require.NotContains(t, c.Postgres.ConnConfig.RuntimeParams, "pool_pre_ping")
	require.Equal(t, "x", c.Postgres.ConnConfig.RuntimeParams["application_name"])
	_, err = Parse("postgres://u@h/db?pool_pre_ping=maybe")
	require.ErrorIs(t, err, ErrInvalidDSN)
}
