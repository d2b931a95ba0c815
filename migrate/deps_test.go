package migrate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Issue 17 item 8: the registry's import graph gains neither goose nor
// atlas; they come with package migrate (and autogen) only.
func TestRegistryImportsNoMigrationEngine(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/dbactor/dbactor/registry").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "pressly/goose") || strings.HasPrefix(dep, "ariga.io/atlas") || strings.HasPrefix(dep, "github.com/dbactor/dbactor/migrate") {
			t.Errorf("registry links %s", dep)
		}
	}
}
