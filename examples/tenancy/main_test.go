package main

import (
	"testing"

	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// The example runs on SQLite, or on PostgreSQL when DBACTOR_TEST_DATABASE
// is set (make test sets it).
func TestTenancy(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
