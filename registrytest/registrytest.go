package registrytest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbactor/dbactor/registry"
)

// EnvDatabase names the environment variable that holds the URL of the
// test database (the one `make test` sets).
const EnvDatabase = "DBACTOR_TEST_DATABASE"

// New returns a connected registry for one test. When cfg.Database is
// empty it is the URL in $DBACTOR_TEST_DATABASE, else an SQLite file in
// the test's temporary directory. Every database the registry owns (main
// and extras) is a force-rollback database (registry.WithForceRollback).
// The test's cleanup closes the registry, which rolls the sandboxes back.
// Any failure fails the test.
func New(t testing.TB, cfg registry.Config, opts ...registry.Option) *registry.Registry {
	t.Helper()
	if cfg.Database == "" {
		cfg.Database = strings.TrimSpace(os.Getenv(EnvDatabase))
	}
	if cfg.Database == "" {
		cfg.Database = "sqlite:///" + filepath.Join(t.TempDir(), "test.db")
	}
	names := []string{""}
	for name := range cfg.Extra {
		names = append(names, name)
	}
	opts = append(opts, registry.WithForceRollback(names...))
	reg, err := registry.New(nil, cfg, opts...)
	if err != nil {
		t.Fatalf("registrytest: %v", err)
		return nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Errorf("registrytest: close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reg.Connect(ctx); err != nil {
		t.Fatalf("registrytest: connect: %v", err)
		return nil
	}
	return reg
}
