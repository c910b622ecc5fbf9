package cli

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDevOnceSettlesTheSampleSet runs the whole demo in-process: emulator,
// simulator, worker and the real SDK, and checks the summary it prints.
func TestDevOnceSettlesTheSampleSet(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, nil, "dev", "--once", "--max-retry-duration", "4s", "--log-format", "json", "--pacing-users", "60")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "Sending 14 sample messages")
	row := func(outcome, reason string, n int) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^\s+` + outcome + `\s+` + reason + `\s+` + strconv.Itoa(n) + `$`)
	}
	assert.Regexp(t, row("completed", "", 8), out)
	assert.Regexp(t, row("dead-lettered", "InvalidMessage", 3), out)
	assert.Regexp(t, row("dead-lettered", "UserNotFound", 1), out)
	assert.Regexp(t, row("dead-lettered", "GraphRejected", 1), out)
	assert.Regexp(t, row("dead-lettered", "RetriesExhausted", 1), out)
	// One JSON log line per outcome, and never the emulator's key.
	assert.Equal(t, 8+60, strings.Count(errOut, `"msg":"message completed"`), "the samples and the pacing demo")
	assert.Equal(t, 6, strings.Count(errOut, `"msg":"message dead-lettered"`))
	assert.NotContains(t, errOut, "SAS_KEY_VALUE")
	// The pacing demo drains its 60 users against the simulated quota and
	// the worker logs its limiter as the rate moves.
	assert.Contains(t, out, "Pacing: 60 messages for distinct users")
	assert.Regexp(t, `Pacing: 6\d calls accepted, \d+ throttled`, out)
	assert.Contains(t, errOut, `"msg":"graph pacing"`)
	// The emulator is gone when --once returns: say so, and how to keep it.
	assert.Contains(t, out, "The emulator has stopped with the demo (--once)")
	assert.Contains(t, out, "run 'licensefix dev' without --once")
	assert.NotContains(t, out, "Inspect them with:")
}

func TestDevRejectsBadSettings(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, nil, "dev", "--max-retry-duration", "0s")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_MAX_RETRY_DURATION")
	code, _, errOut = runCLI(t, map[string]string{"LICENSEFIX_LOG_LEVEL": "chatty"}, "dev")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_LOG_LEVEL")
}

// cancelOn is a writer that cancels a context once the text written to it
// contains a phrase.
type cancelOn struct {
	mu     sync.Mutex
	buf    strings.Builder
	phrase string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.phrase) {
		c.cancel()
	}
	return len(p), nil
}

// TestDevKeepsTheEmulatorUntilCtrlC: without --once the summary points at
// dlq list, and the demo runs until it is stopped.
func TestDevKeepsTheEmulatorUntilCtrlC(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := &cancelOn{phrase: "press Ctrl-C to stop", cancel: cancel}
	var errb strings.Builder
	e := &Env{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: out, Stderr: &errb}
	code := Main(ctx, e, []string{"dev", "--max-retry-duration", "4s", "--log-format", "json"})
	assert.Equal(t, ExitOK, code, errb.String())
	assert.Contains(t, out.buf.String(), "Inspect them with: licensefix dlq list --summary")
	assert.NotContains(t, out.buf.String(), "--once")
}
