package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/internal/ident"
	"github.com/dbactor/dbactor/registry"
)

// fuzzPassword is the password every URL FuzzNew builds carries: it must
// never show in an error, a String() or a status.
const fuzzPassword = "Pw7zQfuzzSecret"

// fuzzURL makes a database URL of one of four shapes from a fuzzed tail:
// the tail as it is, or a URL or libpq string whose password is
// fuzzPassword.
func fuzzURL(shape uint8, tail string) (url string, hasPassword bool) {
	switch shape & 3 {
	case 1:
		return "postgres://app:" + fuzzPassword + "@" + tail, true
	case 2:
		return "postgresql+asyncpg://app:" + fuzzPassword + "@" + tail, true
	case 3:
		return "host=h user=app password=" + fuzzPassword + " " + tail, true
	}
	return tail, false
}

// FuzzNew: registry.New with any Database URL, extra database (name and
// URL) and Schema never panics and never connects; it either returns a
// registry that Close closes, or an error matching ErrInvalidConfig (every
// *ConfigError names a database). No text it produces — error, String(),
// URL(), Status — contains the URL's password. A registry whose Schema is
// invalid refuses CreateAll and DropAll with ErrInvalidName before any SQL.
func FuzzNew(f *testing.F) {
	for _, s := range []struct {
		database, extraName, extraURL, schema string
		shape                                 uint8
	}{
		{"sqlite:///app.db", "analytics", "sqlite:///:memory:", "", 0},
		{"127.0.0.1:5432/app", "x", "127.0.0.1/x?sslmode=disable", "tenant", 0x05},
		{"", "", "", "", 0},
		{"h/db?connect_timeout=-1", " ", "h/db?pool_size=x", `a"b;c`, 0x06},
		{"dbname=app", "nope\x00", "port=99999", "a\x00b", 0x0f},
	} {
		f.Add(s.database, s.extraName, s.extraURL, s.schema, s.shape)
	}
	sys := registry.NewActorSystem(nil)
	f.Cleanup(sys.Shutdown)
	f.Fuzz(func(t *testing.T, database, extraName, extraURL, schema string, shape uint8) {
		if strings.Contains(database+extraName+extraURL+schema, fuzzPassword) {
			return // the marker must come from the password position only
		}
		mainURL, mainPW := fuzzURL(shape, database)
		xURL, xPW := fuzzURL(shape>>2, extraURL)
		secret := mainPW || xPW
		cfg := registry.Config{Database: mainURL, Schema: schema, Timeout: 10 * time.Second}
		if shape&0x10 == 0 {
			cfg.Extra = map[string]string{extraName: xURL}
		}
		noSecret := func(what, text string) {
			t.Helper()
			if secret {
				require.NotContains(t, text, fuzzPassword, "%s", what)
			}
		}
		reg, err := registry.New(sys, cfg)
		if err != nil {
			require.Nil(t, reg)
			require.ErrorIs(t, err, registry.ErrInvalidConfig, "%v", err)
			noSecret("error", err.Error())
			noSecret("error %+v", fmt.Sprintf("%+v", err))
			var ce *registry.ConfigError
			require.ErrorAs(t, err, &ce)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		defer func() { require.NoError(t, reg.Close(ctx)) }()
		noSecret("registry", reg.String())
		for _, db := range reg.Databases() {
			noSecret("database", db.String())
			noSecret("url", db.URL())
			st, err := db.Status(ctx)
			require.NoError(t, err)
			require.False(t, st.Connected, "New connects nothing")
			noSecret("status", fmt.Sprintf("%+v", st))
		}
		if cfg.Extra != nil {
			x, err := reg.Extra(extraName)
			require.NoError(t, err)
			require.Equal(t, extraName, x.Name())
		}
		_, err = reg.Extra(extraName + "\x00nope")
		require.ErrorIs(t, err, registry.ErrUnknownDatabase)
		if schema != "" && ident.Validate("schema", schema) != nil {
			// Should these ever connect, a relative SQLite path lands here.
			t.Chdir(t.TempDir())
			for _, err := range []error{reg.CreateAll(ctx), reg.DropAll(ctx)} {
				require.ErrorIs(t, err, registry.ErrInvalidName)
				require.False(t, errors.Is(err, registry.ErrSchema))
			}
		}
	})
}
