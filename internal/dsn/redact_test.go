package dsn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"url", "postgres://u:" + pw + "@h/db", "postgres://u:xxxxx@h/db"},
		{"url driver", "postgresql+asyncpg://u:" + pw + "@h:5432/db?ssl=true", "postgresql+asyncpg://u:xxxxx@h:5432/db?ssl=true"},
		{"url no password", "postgres://u@h/db", "postgres://u@h/db"},
		{"url empty password", "postgres://u:@h/db", "postgres://u:@h/db"},
		{"url no userinfo", "postgres://h/db?application_name=a@b", "postgres://h/db?application_name=a@b"},
		{"url sqlalchemy specials", "postgresql://u:a#*?/b%40c d@h/db", "postgresql://u:xxxxx@h/db"},
		{"url raw at", "postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db"},
		{"url azure user", "postgres://user@srv:" + pw + "@h/db", "postgres://user@srv:xxxxx@h/db"},
		{"url at in query", "postgres://u:" + pw + "@h/db?application_name=a@b", "postgres://u:xxxxx@h/db?application_name=a@b"},
		{"query password", "postgres://h/db?user=u&password=" + pw + "&sslmode=disable", "postgres://h/db?user=u&password=xxxxx&sslmode=disable"},
		{"query encoded key", "postgres://h/db?pass%77ord=" + pw, "postgres://h/db?pass%77ord=xxxxx"},
		{"query sslpassword", "postgres://h/db?sslpassword=" + pw, "postgres://h/db?sslpassword=xxxxx"},
		{"query and userinfo", "postgres://u:" + pw + "@h/db?password=" + pw, "postgres://u:xxxxx@h/db?password=xxxxx"},
		{"kv quoted", "host=h password='a b' dbname=d", "host=h password='xxxxx' dbname=d"},
		{"kv unquoted", "password=" + pw + " host=h", "password=xxxxx host=h"},
		{"kv escaped space", `password=a\ b host=h`, "password=xxxxx host=h"},
		{"kv spaced", "host=h password = '" + pw + "'", "host=h password = 'xxxxx'"},
		{"kv sslpassword", "host=h sslpassword=" + pw, "host=h sslpassword=xxxxx"},
		{"kv empty password", "host=h password=", "host=h password="},
		{"kv empty quoted password", "host=h password='' dbname=d", "host=h password='' dbname=d"},
		// libpq skips spaces after '=', so the next word is the password.
		{"kv value after space", "host=h password= dbname=d", "host=h password= xxxxx"},
		{"kv unterminated", "host=h password='" + pw + " dbname=d", "host=h password='xxxxx'"},
		{"kv junk keyword", "junk password=" + pw, "junk password=xxxxx"},
		{"unknown scheme", "mysql://u:" + pw + "@h/db", "mysql://u:xxxxx@h/db"},
		{"missing scheme", "://u:" + pw + "@h", "://u:xxxxx@h"},
		{"schemeless", "u:" + pw + "@host/db", "u:xxxxx@host/db"},
		{"broken scheme", "my sql://u:" + pw + "@h", "my sql://u:xxxxx@h"},
		{"broken scheme kv", "my sql://u:" + pw + "@h?password=" + pw, "my sql://u:xxxxx@h?password=xxxxx"},
		{"file query", "file:x.db?password=" + pw + "&mode=ro", "file:x.db?password=xxxxx&mode=ro"},
		{"sqlite", "sqlite:///x.db", "sqlite:///x.db"},
		{"nothing", "foo", "foo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Redact(tc.in))
		})
	}
}

func TestScrub(t *testing.T) {
	require.Equal(t, "a xxxxx b xxxxx", Scrub("a "+pw+" b "+pw, pw))
	require.Equal(t, "ab ab", Scrub("ab ab", "ab"), "secrets shorter than 3 bytes are ignored")
	require.Equal(t, "no secrets", Scrub("no secrets"))
	require.Equal(t, "no secrets", Scrub("no secrets", ""))
	// The longer secret is masked whole even when a shorter one is inside it.
	require.Equal(t, "[xxxxx] [xxxxx]", Scrub("[secret-long] [sec]", "sec", "secret-long"))
	require.Equal(t, "xxxxx / xxxxx", Scrub("p@ss / p%40ss", "p@ss", "p%40ss"))
	secrets := []string{"aaa", "bbbb"}
	Scrub("aaa bbbb", secrets...)
	require.Equal(t, []string{"aaa", "bbbb"}, secrets, "Scrub must not reorder the caller's slice")
}
