package introspect_test

import (
	"testing"

	"github.com/dbactor/dbactor/internal/testdb"
)

// TestMain fails the package if a test leaves goroutines behind (the tests
// spawn registries and open pools).
func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }
