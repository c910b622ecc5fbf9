package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shell returns the path of a shell, failing in CI (where .ci/run installs
// it) and skipping elsewhere when it is not installed.
func shell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// completionScript writes `licensefix completion <sh>` to a file.
func completionScript(t *testing.T, sh string) string {
	t.Helper()
	code, out, errOut := runCLI(t, nil, "completion", sh)
	require.Equal(t, ExitOK, code, errOut)
	f := filepath.Join(t.TempDir(), "licensefix."+sh)
	require.NoError(t, os.WriteFile(f, []byte(out), 0o600))
	return f
}

func fields(s string) []string { return strings.Fields(s) }

func TestCompletionBash(t *testing.T) {
	t.Parallel()
	bash := shell(t, "bash")
	script := completionScript(t, "bash")
	complete := func(words ...string) []string {
		t.Helper()
		// COMP_WORDS holds the words up to and including the one at the cursor.
		arr := make([]string, len(words))
		for i, w := range words {
			arr[i] = "'" + w + "'"
		}
		prog := `source "$1"; COMP_WORDS=(` + strings.Join(arr, " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _licensefix; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, "-c", prog, "bash", script).CombinedOutput()
		require.NoError(t, err, string(out))
		return fields(string(out))
	}
	assert.Equal(t, []string{"dev", "dlq"}, complete("licensefix", "d"))
	assert.Equal(t, []string{"purge"}, complete("licensefix", "dlq", "pu"))
	assert.Equal(t, []string{"--dry-run"}, complete("licensefix", "dlq", "purge", "--dr"))
	assert.Equal(t, []string{"--yes"}, complete("licensefix", "dlq", "purge", "--reason", "InvalidMessage", "--y"))
	assert.Equal(t, []string{"--connect-timeout", "--correlation-id"}, complete("licensefix", "send", "--co"))
	assert.Equal(t, []string{"--concurrency"}, complete("licensefix", "run", "--conc"))
	assert.Equal(t, []string{"zsh"}, complete("licensefix", "completion", "z"))
	assert.Equal(t, []string{"--version"}, complete("licensefix", "--v"))
	// A flag's value falls back to file names (complete -o default).
	assert.Empty(t, complete("licensefix", "send", "--from", ""))
}

func TestCompletionZsh(t *testing.T) {
	t.Parallel()
	zsh := shell(t, "zsh")
	script := completionScript(t, "zsh")
	out, err := exec.Command(zsh, "-n", script).CombinedOutput()
	require.NoError(t, err, "zsh -n: %s", out)
	// Outside a completion widget, stand in for compadd, _files and compdef
	// to see the candidates the function offers (zsh filters by prefix).
	complete := func(words ...string) []string {
		t.Helper()
		arr := make([]string, len(words))
		for i, w := range words {
			arr[i] = "'" + w + "'"
		}
		prog := `compdef() { :; }; compadd() { print -l -- ${(P)2}; }; _files() { print FILES; }; source "$1"; ` +
			`words=(` + strings.Join(arr, " ") + `); CURRENT=${#words}; _licensefix`
		out, err := exec.Command(zsh, "-f", "-c", prog, "zsh", script).CombinedOutput()
		require.NoError(t, err, string(out))
		return fields(string(out))
	}
	assert.Equal(t, []string{"list", "replay", "purge"}, complete("licensefix", "dlq", "p"))
	assert.Contains(t, complete("licensefix", "dlq", "purge", "--"), "--yes")
	assert.NotContains(t, complete("licensefix", "dlq", "list", "--"), "--yes")
	assert.Contains(t, complete("licensefix", "run", "--"), "--concurrency")
	assert.Equal(t, []string{"bash", "zsh", "fish"}, complete("licensefix", "completion", ""))
	assert.Equal(t, []string{"FILES"}, complete("licensefix", "send", "--from", ""))
	assert.Contains(t, complete("licensefix", ""), "dlq")
}

func TestCompletionFish(t *testing.T) {
	t.Parallel()
	fish := shell(t, "fish")
	script := completionScript(t, "fish")
	complete := func(line string) []string {
		t.Helper()
		out, err := exec.Command(fish, "--no-config", "-c", `source $argv[1]; complete -C "`+line+`"`, script).CombinedOutput()
		require.NoError(t, err, string(out))
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" {
				got = append(got, strings.Fields(l)[0])
			}
		}
		return got
	}
	assert.Equal(t, []string{"purge"}, complete("licensefix dlq pu"))
	assert.Equal(t, []string{"--yes"}, complete("licensefix dlq purge --y"))
	assert.Equal(t, []string{"--concurrency"}, complete("licensefix run --concu"))
	assert.Equal(t, []string{"fish"}, complete("licensefix completion f"))
	assert.Equal(t, []string{"dev", "dlq"}, complete("licensefix d"))
}

func TestCompletionUsage(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, nil, "completion")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "bash, zsh or fish")
	code, _, errOut = runCLI(t, nil, "completion", "tcsh")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `unknown shell "tcsh"`)
	code, _, errOut = runCLI(t, nil, "completion", "--help")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, errOut, "source <(licensefix completion bash)")
}
