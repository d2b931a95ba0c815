package migrate_test

import (
	"fmt"
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
		os.Exit(runRole(role))
	}
	testdb.VerifyNoLeaks(m)
}

func runRole(role string) int {
	out := testnode.NewOut(os.Stdout)
	var err error
	switch role {
	case "db":
		err = roleDB(out)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "role %s: %v\n", role, err)
		return 1
	}
	return 0
}
