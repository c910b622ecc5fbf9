package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/dlq"
)

// runCLITerminal is runCLIStdin with a person at the terminal.
func runCLITerminal(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Interactive: func() bool { return true }}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = Main(ctx, e, args)
	return code, out.String(), errb.String()
}

func dlqUsers(t *testing.T, msgs []*azservicebus.ReceivedMessage) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		out = append(out, dlq.NewEntry(m).UserID)
	}
	return out
}

func TestDLQPurgeDryRunThenYes(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "bob@contoso.com", "carol@contoso.com")
	before := peekAll(t, srv, azservicebus.SubQueueDeadLetter)

	code, out, errOut := runCLIStdin(t, env, "", "dlq", "purge", "--reason", "usernotfound", "--dry-run")
	require.Equal(t, ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	assert.Regexp(t, `^SEQ\s+MESSAGE ID\s+ENQUEUED\s+STATE\s+REASON\s+USER$`, lines[0])
	assert.Regexp(t, `^\d+\s+m-alice@contoso.com\s+\S+Z\s+active\s+UserNotFound\s+alice@contoso.com$`, lines[1])
	assert.Regexp(t, `^\d+\s+m-carol@contoso.com\s+`, lines[2])
	assert.Equal(t, "dry run: would purge 2", lines[3])
	assert.Contains(t, errOut, `"msg":"purge_audit"`)
	assert.Contains(t, errOut, `"dry_run":true`)
	after := peekAll(t, srv, azservicebus.SubQueueDeadLetter)
	require.Len(t, after, 3, "a dry run removes nothing")
	for i := range after {
		assert.Equal(t, before[i].State, after[i].State)
		assert.Equal(t, before[i].DeliveryCount, after[i].DeliveryCount)
	}

	// Not a terminal: --yes is required, and nothing happens without it.
	code, out, errOut = runCLIStdin(t, env, "y\n", "dlq", "purge", "--reason", "UserNotFound")
	assert.Equal(t, ExitUsage, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "add --yes")
	assert.Len(t, peekAll(t, srv, azservicebus.SubQueueDeadLetter), 3)

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "purge", "--reason", "UserNotFound", "--yes")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "purged 2, failed 0; deferred 1 non-matching messages to reach the matches; they remain in the DLQ, listed as deferred\n", out)
	assert.Contains(t, errOut, `"msg":"purge_audit"`)
	assert.Contains(t, errOut, `"purged_message_ids":["m-alice@contoso.com","m-carol@contoso.com"]`)
	left := peekAll(t, srv, azservicebus.SubQueueDeadLetter)
	assert.Equal(t, []string{"bob@contoso.com"}, dlqUsers(t, left))
	assert.Equal(t, azservicebus.MessageStateDeferred, left[0].State)

	// The deferred message is reachable, by JSON report too.
	code, out, errOut = runCLIStdin(t, env, "", "dlq", "purge", "--user-id", "BOB@contoso.com", "--yes", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var rep dlq.PurgeReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Purged, 1)
	assert.Equal(t, "m-bob@contoso.com", rep.Purged[0].MessageID)
	assert.Empty(t, peekAll(t, srv, azservicebus.SubQueueDeadLetter))
}

func TestDLQPurgeAsksOnATerminal(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "bob@contoso.com")

	for _, answer := range []string{"n\n", "\n", "whatever\n", ""} {
		code, out, errOut := runCLITerminal(t, env, answer, "dlq", "purge", "--reason", "GraphRejected")
		assert.Equal(t, ExitFailure, code, "answer %q", answer)
		assert.Contains(t, errOut, "m-bob@contoso.com", "the list is shown before the question")
		assert.Contains(t, errOut, "Remove these 1 message(s) from the dead-letter queue of license-fixed for good? [y/N]")
		assert.Contains(t, errOut, "not confirmed; nothing purged")
		assert.Contains(t, out, "purge cancelled: 1 matching message(s) left in the DLQ")
		assert.Contains(t, errOut, `"declined":true`)
		assert.Len(t, peekAll(t, srv, azservicebus.SubQueueDeadLetter), 2)
	}
	code, out, errOut := runCLITerminal(t, env, "YES\n", "dlq", "purge", "--reason", "GraphRejected")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "purged 1, failed 0")
	assert.Equal(t, []string{"alice@contoso.com"}, dlqUsers(t, peekAll(t, srv, azservicebus.SubQueueDeadLetter)))
}

func TestDLQPurgeExitsOneOnFailure(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "carol@contoso.com")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	defer client.Close(ctx)
	other, err := client.NewReceiverForQueue("license-fixed", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	require.NoError(t, err)
	held, err := other.ReceiveMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, held, 1)

	code, out, errOut := runCLIStdin(t, env, "", "dlq", "purge", "--reason", "UserNotFound", "--yes", "--receive-timeout", "1s")
	assert.Equal(t, ExitFailure, code)
	assert.Contains(t, out, "(message m-alice@contoso.com): not received within 1s")
	assert.Contains(t, out, "purged 1, failed 1")
	assert.Contains(t, errOut, "1 message(s) could not be purged")
	require.NoError(t, other.AbandonMessage(ctx, held[0], nil))
	require.NoError(t, other.Close(ctx))
}

func TestDLQPurgeUsageErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": dummyConn}
	code, _, errOut := runCLI(t, env, "dlq", "purge", "--yes")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "without a filter, purge would remove every message in the DLQ")
	assert.Contains(t, errOut, "--all")
	code, _, errOut = runCLI(t, env, "dlq", "purge", "--reason", "InvalidMessage", "--receive-timeout", "0")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_DLQ_RECEIVE_TIMEOUT")
	code, _, errOut = runCLI(t, env, "dlq", "purge", "--since", "1h", "--until", "2h")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_DLQ_UNTIL")
	code, _, errOut = runCLI(t, env, "dlq", "purge", "extra")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, `unexpected argument "extra"`)
	// --yes is a flag only: consent is not inherited from the environment.
	env["LICENSEFIX_DLQ_YES"] = "true"
	code, _, errOut = runCLI(t, env, "dlq", "purge", "--reason", "InvalidMessage")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "add --yes")
	code, _, errOut = runCLI(t, env, "dlq", "purge", "--help")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, errOut, "--yes")
	assert.Contains(t, errOut, "--all")
}

func TestDLQPurgeAllWithoutFilter(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "bob@contoso.com")
	code, out, errOut := runCLIStdin(t, env, "", "dlq", "purge", "--all", "--yes")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "purged 2, failed 0\n", out)
	assert.Empty(t, peekAll(t, srv, azservicebus.SubQueueDeadLetter))
}
