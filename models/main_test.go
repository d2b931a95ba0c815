package models

import (
	"testing"

	"github.com/dbactor/dbactor/internal/testdb"
)

// TestMain fails the package if a test leaves goroutines behind (the
// database tests open sql.DB pools and pgx connections).
func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }
