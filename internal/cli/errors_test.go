package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUsageErrorIsOneLinePlusHint: a bad value prints the error and one
// line pointing at --help, not the whole usage.
func TestUsageErrorIsOneLinePlusHint(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": dummyConn}
	for _, tc := range []struct {
		args []string
		hint string
	}{
		{[]string{"run", "--concurrency", "abc"}, "Run 'licensefix run --help' for its settings."},
		{[]string{"dlq", "list", "--limit", "x"}, "Run 'licensefix dlq list --help' for its settings."},
		{[]string{"dlq", "purge", "--bogus"}, "Run 'licensefix dlq purge --help' for its settings."},
		{[]string{"send", "--user-id", "a@contoso.com", "--connect-timeout", "soon"}, "Run 'licensefix send --help' for its settings."},
		{[]string{"dlq", "frob"}, "Run 'licensefix dlq --help' for its settings."},
	} {
		code, out, errOut := runCLI(t, env, tc.args...)
		assert.Equal(t, ExitUsage, code, "%v", tc.args)
		assert.Empty(t, out)
		lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
		require.Len(t, lines, 2, "%v: %s", tc.args, errOut)
		assert.True(t, strings.HasPrefix(lines[0], "licensefix "), lines[0])
		assert.Equal(t, tc.hint, lines[1])
	}
	code, _, errOut := runCLI(t, env, "run", "--concurrency", "abc")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_CONCURRENCY (--concurrency)")
	assert.NotContains(t, errOut, "Settings (flag, environment variable, default)")

	code, _, errOut = runCLI(t, nil, "frobnicate")
	assert.Equal(t, ExitUsage, code)
	assert.Equal(t, "licensefix: unknown command \"frobnicate\"\nRun 'licensefix --help' for the list of commands.\n", errOut)

	// --help still prints the whole usage, and exits 0.
	code, _, errOut = runCLI(t, env, "run", "--help")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, errOut, "Settings (flag, environment variable, default)")
}

func TestUnknownReasonNamesValidOnes(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": dummyConn}
	for _, args := range [][]string{
		{"dlq", "list", "--reason", "Bogus"},
		{"dlq", "replay", "--reason", "UserNotFound,Bogus"},
		{"dlq", "purge", "--reason", "Bogus", "--dry-run"},
	} {
		code, out, errOut := runCLI(t, env, args...)
		assert.Equal(t, ExitUsage, code, "%v", args)
		assert.Empty(t, out)
		assert.Contains(t, errOut, `LICENSEFIX_DLQ_REASON (--reason): unknown dead-letter reason "Bogus"; valid reasons: InvalidMessage, UserNotFound, GraphRejected, RetriesExhausted, MaxDeliveryCountExceeded, TTLExpiredException`)
	}
	env["LICENSEFIX_DLQ_REASON"] = "nope"
	code, _, errOut := runCLI(t, env, "dlq", "list")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `unknown dead-letter reason "nope"`)
}

func TestSendCSVWithoutIDColumnExitsTwo(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": dummyConn}
	dir := t.TempDir()
	noCol := filepath.Join(dir, "users.csv")
	require.NoError(t, os.WriteFile(noCol, []byte("displayName,mail\nAlice,alice@contoso.com\n"), 0o600))
	code, out, errOut := runCLI(t, env, "send", "--from", noCol)
	assert.Equal(t, ExitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `looked for userId, id, objectId, userPrincipalName (any letter case), found "displayName", "mail"`)
	assert.NotContains(t, errOut, "invalid user id", "the lines are not read one id per line")

	// A one-column .csv file is still CSV: its header must name the column.
	single := filepath.Join(dir, "mails.csv")
	require.NoError(t, os.WriteFile(single, []byte("mail\nalice@contoso.com\n"), 0o600))
	code, _, errOut = runCLI(t, env, "send", "--from", single)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `found "mail"`)
}

// blackhole accepts TCP connections and never answers, like an endpoint
// behind a firewall that drops AMQP.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestUnreachableEndpointGivesUpAfterConnectTimeout(t *testing.T) {
	t.Parallel()
	addr := blackhole(t)
	env := map[string]string{
		"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": "Endpoint=sb://" + addr + ";SharedAccessKeyName=k;SharedAccessKey=secretvalue;UseDevelopmentEmulator=true",
		"LICENSEFIX_CONNECT_TIMEOUT":              "1s",
	}
	for _, tc := range []struct {
		args []string
		what string
	}{
		{[]string{"send", "--user-id", "alice@contoso.com"}, "to open a sender on queue license-fixed"},
		{[]string{"dlq", "list"}, "to peek the dead-letter queue of license-fixed"},
		{[]string{"dlq", "replay", "--dry-run"}, "to peek the dead-letter queue of license-fixed"},
		{[]string{"dlq", "purge", "--dry-run", "--reason", "InvalidMessage"}, "to peek the dead-letter queue of license-fixed"},
	} {
		start := time.Now()
		code, _, errOut := runCLIStdin(t, env, "", tc.args...)
		assert.Less(t, time.Since(start), 30*time.Second, "%v gave up in time", tc.args)
		assert.Equal(t, ExitFailure, code, "%v: %s", tc.args, errOut)
		assert.Contains(t, errOut, "gave up after 1s waiting for Service Bus at "+addr+" "+tc.what+": no answer", "%v", tc.args)
		assert.Contains(t, errOut, "LICENSEFIX_CONNECT_TIMEOUT")
		assert.NotContains(t, errOut, "secretvalue")
	}
	// The flag replaces the variable; zero is rejected.
	code, _, errOut := runCLI(t, env, "dlq", "list", "--connect-timeout", "0")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_CONNECT_TIMEOUT (--connect-timeout): must be positive")
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, nil, "--version")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, out, "licensefix 1.2.3 (commit abc123")
	code, _, errOut := runCLI(t, nil, "--help")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, errOut, "'licensefix --version' prints the version")
	assert.Contains(t, errOut, "completion ")
}
