package migrate_test

import (
	"os"
	"testing"

	"github.com/dbactor/dbactor/internal/testdb"
	"github.com/dbactor/dbactor/internal/testnode"
)

// Child roles (testnode.EnvRole) of the remote tests (remote_test.go):
//
//   - "db": a database node serving the tests' migrations (see roleDB).
func TestMain(m *testing.M) {
	if role := testnode.Role(); role != "" {
		os.Exit(testnode.RunRole(role, map[string]func(*testnode.Out) error{"db": roleDB}))
	}
	testdb.VerifyNoLeaks(m)
}
