package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// The example runs on the embedded SQLite and tells its story.
func TestMigrations(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"status: 5 pending",
		"up: applied 5 migrations over 4 sets",
		"status: 0 pending",
		"default/globex: version 1, 1 applied, 0 pending",
		"version 2 -> 1 (rolled back 00002_users_email.sql)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
