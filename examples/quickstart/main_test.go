package main

import (
	"testing"

	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// The quickstart is the README's first command: it must keep working.
func TestQuickstart(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
