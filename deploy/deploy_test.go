package deploy_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/licensefix/licensefix/internal/cli"
	"github.com/licensefix/licensefix/worker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// klog, pulled in by kustomize's Kubernetes dependencies, starts a
		// log flush daemon from its package init.
		goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
	)
}

// repoRoot is the module root: tests run in deploy/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// repoPath is a path under the module root.
func repoPath(t *testing.T, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{repoRoot(t)}, elem...)...)
}

// readFile returns a repository file's contents.
func readFile(t *testing.T, elem ...string) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, elem...))
	require.NoError(t, err)
	return string(b)
}

var (
	settingsMu    sync.Mutex
	settingsCache = map[string]map[string]bool{}
)

// settingRE finds the variable column of envflag's usage: the variable is
// followed by its default.
var settingRE = regexp.MustCompile(`\b(LICENSEFIX_[A-Z0-9_]+)\s+default\b`)

// acceptedSettings runs "licensefix <command> --help" in-process and returns
// the LICENSEFIX_* variables the subcommand binds.
func acceptedSettings(t *testing.T, command string) map[string]bool {
	t.Helper()
	settingsMu.Lock()
	defer settingsMu.Unlock()
	if s, ok := settingsCache[command]; ok {
		return s
	}
	var stdout, stderr bytes.Buffer
	e := &cli.Env{
		Getenv: func(string) string { return "" },
		Stdin:  strings.NewReader(""),
		Stdout: &stdout,
		Stderr: &stderr,
	}
	code := cli.Main(context.Background(), e, []string{command, "--help"})
	require.Equal(t, cli.ExitOK, code, "licensefix %s --help: %s", command, stderr.String())
	s := map[string]bool{}
	for _, m := range settingRE.FindAllStringSubmatch(stdout.String()+stderr.String(), -1) {
		s[m[1]] = true
	}
	require.NotEmpty(t, s, "licensefix %s --help lists no LICENSEFIX_* settings", command)
	settingsCache[command] = s
	return s
}

// requireAccepted fails for every LICENSEFIX_* key of env that the
// subcommand does not bind.
func requireAccepted(t *testing.T, where, command string, env map[string]string) {
	t.Helper()
	accepted := acceptedSettings(t, command)
	var unknown []string
	for k := range env {
		if strings.HasPrefix(k, "LICENSEFIX_") && !accepted[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	require.Empty(t, unknown, "%s sets variables that licensefix %s does not accept", where, command)
}

// envDuration parses a duration setting; a missing one takes the worker's
// default when there is one.
func envDuration(t *testing.T, env map[string]string, key string) time.Duration {
	t.Helper()
	v, ok := env[key]
	if !ok {
		require.Equal(t, worker.EnvShutdownTimeout, key, "no default known for %s", key)
		return worker.DefaultShutdownTimeout
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "%s=%q", key, v)
	return d
}

// defaultHTTPAddr is the LICENSEFIX_HTTP_ADDR default of "licensefix run",
// which exports no constant for it. TestComposeStackInProcess checks that
// the running worker serves the probe and metrics paths the manifests use.
const defaultHTTPAddr = ":8080"

// httpPort is the port of a LICENSEFIX_HTTP_ADDR value ("" means the default).
func httpPort(t *testing.T, addr string) uint32 {
	t.Helper()
	if addr == "" {
		addr = defaultHTTPAddr
	}
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err, "LICENSEFIX_HTTP_ADDR=%q", addr)
	n, err := strconv.ParseUint(p, 10, 16)
	require.NoError(t, err, "LICENSEFIX_HTTP_ADDR=%q", addr)
	return uint32(n)
}
