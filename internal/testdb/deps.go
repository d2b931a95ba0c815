package testdb

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// NoDatabaseDeps fails t if pkg (an import path) links a database driver
// (pgx, modernc.org/sqlite) or one of dbactor's packages named in hosts
// (short paths such as "registry" or "node/dbnode"): what a program that
// only talks to registries on other nodes must not carry. It reads
// `go list -deps`, so it checks the whole import graph, not a build.
func NoDatabaseDeps(t testing.TB, pkg string, hosts ...string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("testdb: the go command: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("testdb: go list -deps %s: %v\n%s", pkg, err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, pkg) {
		t.Fatalf("testdb: go list -deps %s does not list %s itself:\n%s", pkg, pkg, out)
	}
	for _, dep := range deps {
		if strings.Contains(dep, "jackc/pgx") || strings.Contains(dep, "modernc.org") {
			t.Errorf("%s links %s", pkg, dep)
		}
		for _, host := range hosts {
			if dep == "github.com/dbactor/dbactor/"+host {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}
