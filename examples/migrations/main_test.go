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
		"autogenerate: registered model Project has no table yet; wrote default/00003_projects.sql",
		"status: 6 pending",
		"up: applied 6 migrations over 4 sets",
		"status: 0 pending",
		"default/globex: version 1, 1 applied, 0 pending",
		"autogenerate: the database matches the models, nothing written",
		"version 3 -> 2 (rolled back 00003_projects.sql)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
