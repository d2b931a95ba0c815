package dsn

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		cause error
	}{
		{"empty", "", ErrEmpty},
		{"blank", " \t\n ", ErrEmpty},

		{"mysql", "mysql://u:" + pw + "@h/db", ErrUnsupportedScheme},
		{"mysql+driver", "mysql+aiomysql://u:" + pw + "@h/db", ErrUnsupportedScheme},
		{"redis", "redis://:" + pw + "@h:6379/0", ErrUnsupportedScheme},
		{"bare word", "foo", ErrUnsupportedScheme},
		{"missing scheme", "://u:" + pw + "@x", ErrUnsupportedScheme},
		{"no scheme at all", "u:" + pw + "@host/db", ErrUnsupportedScheme},
		{"file with driver", "file+x://u:" + pw + "@h/x.db", ErrUnsupportedScheme},
		{"sqlite without slashes", "sqlite:app.db", ErrUnsupportedScheme},
		{"space in scheme", "my sql://u:" + pw + "@h", ErrUnsupportedScheme},

		{"bad port", "postgres://u:" + pw + "@h:99999/db", ErrMalformed},
		{"pool_size abc", "postgres://u:" + pw + "@h/db?pool_size=abc", ErrMalformed},
		{"pool_size negative", "postgres://u:" + pw + "@h/db?pool_size=-1", ErrMalformed},
		{"pool_size zero", "postgres://u:" + pw + "@h/db?pool_size=0", ErrMalformed},
		{"pool_size huge", "postgres://u:" + pw + "@h/db?pool_size=99999999999", ErrMalformed},
		{"pool_size overflow", "postgres://u:" + pw + "@h/db?pool_size=2147483647&max_overflow=1", ErrMalformed},
		{"max_overflow negative", "postgres://u:" + pw + "@h/db?max_overflow=-2", ErrMalformed},
		{"pool_recycle abc", "postgres://u:" + pw + "@h/db?pool_recycle=abc", ErrMalformed},
		{"pool_recycle zero", "postgres://u:" + pw + "@h/db?pool_recycle=0", ErrMalformed},
		{"pool_recycle negative", "postgres://u:" + pw + "@h/db?pool_recycle=-5", ErrMalformed},
		{"connect_timeout negative", "postgres://u:" + pw + "@h/db?connect_timeout=-1", ErrMalformed},
		{"connect_timeout abc", "postgres://u:" + pw + "@h/db?connect_timeout=abc", ErrMalformed},
		{"connect_timeout negative duration", "postgres://u:" + pw + "@h/db?connect_timeout=-1s", ErrMalformed},
		{"echo maybe", "postgres://u:" + pw + "@h/db?echo=maybe", ErrMalformed},
		{"echo_pool maybe", "postgres://u:" + pw + "@h/db?echo_pool=maybe", ErrMalformed},
		{"ssl maybe", "postgres://u:" + pw + "@h/db?ssl=maybe", ErrMalformed},
		{"isolation chaos", "postgres://u:" + pw + "@h/db?isolation_level=chaos", ErrMalformed},
		{"pool_size with pool_max_conns", "postgres://u:" + pw + "@h/db?pool_size=2&pool_max_conns=3", ErrMalformed},
		{"pool_min_conns above pool_size", "postgres://u:" + pw + "@h/db?pool_min_conns=5&pool_size=2", ErrMalformed},
		{"pool_max_conns abc", "postgres://u:" + pw + "@h/db?pool_max_conns=abc", ErrMalformed},
		{"sslmode bogus", "postgres://u:" + pw + "@h/db?sslmode=bogus", ErrMalformed},
		{"target_session_attrs bogus", "postgres://u:" + pw + "@h/db?target_session_attrs=bogus", ErrMalformed},
		{"space in query value", "postgresql://u:" + pw + "@h/db?options=a b", ErrMalformed},
		{"bad escape in db", "postgres://u:" + pw + "@h/%zz", ErrMalformed},
		{"query without =", "postgres://u:" + pw + "@h/db?a", ErrMalformed},
		{"NUL in password", "postgres://u:" + pw + "%00@h/db", ErrMalformed},
		{"NUL byte", "postgres://u:" + pw + "@h/db\x00", ErrMalformed},
		{"query password bad port", "postgres://h:0/db?password=" + pw, ErrMalformed},

		{"kv unterminated quote", "host=h password='" + pw, ErrMalformed},
		{"kv trailing word", "host=h password=" + pw + " bogus", ErrMalformed},
		{"kv junk keyword", "junk host password=" + pw, ErrMalformed},
		{"kv registry bad value", "host=h password=" + pw + " pool_size=abc", ErrMalformed},
		{"kv bad port", "host=h port=99999 password=" + pw, ErrMalformed},
		{"kv broken url", "my sql://u:" + pw + "@h?password=" + pw, ErrMalformed},

		{"sqlite host", "sqlite://u:" + pw + "@host/x.db", ErrMalformed},
		{"sqlite bare host", "sqlite://x.db", ErrMalformed},
		{"sqlite pool_size abc", "sqlite:///x.db?pool_size=abc&password=" + pw, ErrMalformed},
		{"file semicolon", "file:x.db?_pragma=a;b&password=" + pw, ErrMalformed},
		{"file bad escape", "file:x.db?password=" + pw + "&x=%zz", ErrMalformed},
		{"file other host", "file://u:" + pw + "@otherhost/x.db", ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.in)
			require.Error(t, err)
			require.Nil(t, cfg)
			require.ErrorIs(t, err, ErrInvalidDSN)
			require.ErrorIs(t, err, tc.cause)
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			require.NotEmpty(t, pe.Reason)
			require.Contains(t, err.Error(), fmt.Sprintf("%q", pe.Redacted))

			// No text reachable from the error may hold the password.
			for e := error(pe); e != nil; e = errors.Unwrap(e) {
				require.NotContains(t, e.Error(), pw)
			}
			require.NotContains(t, pe.Redacted, pw)
			require.NotContains(t, pe.Reason, pw)
			require.NotContains(t, fmt.Sprintf("%+v", err), pw)
			require.NotContains(t, fmt.Sprintf("%#v", pe), pw)
		})
	}
}

func TestParseErrorText(t *testing.T) {
	_, err := Parse("postgres://u:" + pw + "@h:99999/db")
	require.EqualError(t, err, `dbactor: invalid database URL "postgres://u:xxxxx@h:99999/db": invalid port`)

	_, err = Parse("")
	require.EqualError(t, err, `dbactor: invalid database URL "": empty database URL`)

	_, err = Parse("mysql://u:" + pw + "@h/db")
	require.EqualError(t, err, `dbactor: invalid database URL "mysql://u:xxxxx@h/db": unsupported scheme "mysql" (want postgres, postgresql, sqlite or file, optionally with +driver)`)

	_, err = Parse("postgres://u:" + pw + "@h/db?pool_size=abc")
	require.EqualError(t, err, `dbactor: invalid database URL "postgres://u:xxxxx@h/db?pool_size=abc": pool_size: want an integer >= 1, got "abc"`)

	// pgx's own error stays available, scrubbed, behind ErrMalformed.
	_, err = Parse("postgres://u:" + pw + "@h:99999/db")
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, pe.Err, ErrMalformed)
	require.Contains(t, pe.Err.Error(), "invalid port")
}

// TestParseErrorScrubsEveryText: when the password also appears outside the
// password position, error texts are scrubbed anyway (safety over beauty).
func TestParseErrorScrubsEveryText(t *testing.T) {
	_, err := Parse("postgres://" + pw + ":" + pw + "@h:99999/" + pw)
	require.Error(t, err)
	require.NotContains(t, err.Error(), pw)
}

func TestParseErrorIs(t *testing.T) {
	e := &ParseError{Err: ErrEmpty}
	require.ErrorIs(t, e, ErrInvalidDSN)
	require.ErrorIs(t, e, ErrEmpty)
	require.NotErrorIs(t, e, ErrMalformed)
	require.NotErrorIs(t, &ParseError{}, ErrEmpty)
	require.ErrorIs(t, fmt.Errorf("wrapped: %w", e), ErrInvalidDSN)
}
