package main

import (
	"testing"

	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

func TestCallbacks(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
