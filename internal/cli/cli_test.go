package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// runCLI runs Main in-process with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Version: "1.2.3", Commit: "abc123"}
	code = Main(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, nil, "version")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, out, "licensefix 1.2.3 (commit abc123")
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, nil, "frobnicate")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
	code, _, _ = runCLI(t, nil)
	assert.Equal(t, ExitUsage, code)
}
