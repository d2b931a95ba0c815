package dsn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain isolates pgconn from the machine it runs on: PG* variables and
// ~/.pgpass would otherwise leak into every parsed config.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PG") {
			os.Unsetenv(k)
		}
	}
	dir, err := os.MkdirTemp("", "dsn-test")
	if err != nil {
		panic(err)
	}
	os.Setenv("PGPASSFILE", filepath.Join(dir, "no-such-pgpass"))
	os.Setenv("PGSERVICEFILE", filepath.Join(dir, "no-such-servicefile"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
