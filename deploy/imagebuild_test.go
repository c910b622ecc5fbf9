package deploy_test

import (
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyBuildContext copies the files Docker would send as the build context
// (everything .dockerignore does not exclude) into dir.
func copyBuildContext(t *testing.T, dir string) {
	t.Helper()
	root := repoRoot(t)
	ignore := parseDockerignore(t, readFile(t, ".dockerignore"))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		if ignore.excluded(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	require.NoError(t, err)
}

// TestImageBuildCommand runs the Dockerfile's build step without Docker:
// the same go build flags, in a copy of the build context, offline. The
// result must be a static binary that reports the stamped version and
// commit. (This machine has no Docker engine; the base images are not
// exercised.)
func TestImageBuildCommand(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	ctxDir := t.TempDir()
	copyBuildContext(t, ctxDir)
	require.NoDirExists(t, filepath.Join(ctxDir, "deploy"))
	require.NoDirExists(t, filepath.Join(ctxDir, ".git"))

	out := filepath.Join(t.TempDir(), "licensefix")
	cmd := exec.Command(goBin, "build", "-trimpath",
		"-ldflags", "-s -w -X main.version=9.8.7-test -X main.commit=cafef00d",
		"-o", out, "./cmd/licensefix")
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly",
		"GOPROXY=off", // the module cache is enough: the Dockerfile downloads first
		"GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH,
	)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build in the build context:\n%s", b)

	f, err := elf.Open(out)
	if err == nil {
		defer f.Close()
		for _, p := range f.Progs {
			assert.NotEqual(t, elf.PT_INTERP, p.Type, "static: no dynamic loader")
			assert.NotEqual(t, elf.PT_DYNAMIC, p.Type, "static: no dynamic section")
		}
	} else {
		require.NotEqual(t, "linux", runtime.GOOS, "a Linux build is ELF: %v", err)
	}

	v, err := exec.Command(out, "version").CombinedOutput()
	require.NoError(t, err, "%s", v)
	assert.Contains(t, string(v), "licensefix 9.8.7-test (commit cafef00d")
}
