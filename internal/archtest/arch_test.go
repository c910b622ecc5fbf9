package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/licensefix/licensefix"

// ourDeps returns the packages of this module that pkg depends on,
// transitively, without test files.
func ourDeps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/"+pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	deps := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		p := sc.Text()
		if p == module+"/"+pkg || !strings.HasPrefix(p, module+"/") {
			continue
		}
		deps[strings.TrimPrefix(p, module+"/")] = true
	}
	return deps
}

// TestDependencyArrows checks the layering described in the README: pure
// contracts at the bottom, the Graph client over retry, the worker over
// them, the simulators and the emulator beside the production path, and
// only the CLI tying everything together.
func TestDependencyArrows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pkg     string
		allowed []string // every package of ours pkg may depend on (prefix match)
	}{
		{"messages", nil},
		{"retry", nil},
		{"graph", []string{"retry"}},
		{"pacing", nil},
		{"worker", []string{"messages", "retry", "graph", "pacing"}},
		{"dlq", []string{"messages"}},
		{"sbemu", []string{"sbemu/internal/"}},
		{"sbemu/internal/broker", nil},
		{"sbemu/internal/amqp", nil},
		{"sbemu/internal/sqlfilter", nil},
		{"graph/graphsim", nil},
		{"internal/sbconn", []string{"internal/azcred"}},
		{"internal/azcred", nil},
		{"internal/envflag", nil},
		{"internal/chaos", []string{"dlq", "messages"}},
		{"internal/testutil", nil},
	}
	for _, tc := range cases {
		t.Run(tc.pkg, func(t *testing.T) {
			t.Parallel()
			for dep := range ourDeps(t, tc.pkg) {
				ok := false
				for _, a := range tc.allowed {
					if dep == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(dep, a)) {
						ok = true
					}
				}
				assert.Truef(t, ok, "%s must not depend on %s", tc.pkg, dep)
			}
		})
	}
}

// ourImports returns the direct imports of every package of this module,
// without test files, by importing package.
func ourImports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	require.NoError(t, err)
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		imports[fields[0]] = fields[1:]
	}
	return imports
}

// TestNothingImportsCmd keeps cmd/licensefix a leaf.
func TestNothingImportsCmd(t *testing.T) {
	t.Parallel()
	for pkg, imports := range ourImports(t) {
		for _, imp := range imports {
			assert.NotContainsf(t, imp, module+"/cmd", "%s imports %s", pkg, imp)
		}
	}
}

// TestOnlyTestsImportTestutil keeps internal/testutil (which imports
// testing) out of every non-test build.
func TestOnlyTestsImportTestutil(t *testing.T) {
	t.Parallel()
	for pkg, imports := range ourImports(t) {
		for _, imp := range imports {
			assert.NotEqualf(t, module+"/internal/testutil", imp, "%s imports internal/testutil outside its tests", pkg)
		}
	}
}
