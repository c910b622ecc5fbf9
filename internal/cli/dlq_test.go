package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/messages"
	"github.com/licensefix/licensefix/sbemu"
)

func TestParseReplayRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"": 0, "10/s": 10, "0.5/s": 0.5, " 3 ": 3, "0": 0} {
		got, err := parseReplayRate(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want, got, 1e-9, in)
	}
	for _, bad := range []string{"fast", "-1/s", "10/m", "NaN", "1e9"} {
		_, err := parseReplayRate(bad)
		assert.Error(t, err, bad)
	}
}

func TestDLQUsageErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": dummyConn}
	tests := []struct {
		args    []string
		setting string
	}{
		{[]string{"dlq", "list", "--since", "yesterday"}, "LICENSEFIX_DLQ_SINCE"},
		{[]string{"dlq", "list", "--until", "soon"}, "LICENSEFIX_DLQ_UNTIL"},
		{[]string{"dlq", "list", "--since", "1h", "--until", "2h"}, "LICENSEFIX_DLQ_UNTIL"},
		{[]string{"dlq", "list", "--limit", "-1"}, "LICENSEFIX_DLQ_LIMIT"},
		{[]string{"dlq", "replay", "--rate", "fast"}, "LICENSEFIX_DLQ_RATE"},
		{[]string{"dlq", "replay", "--max", "-2"}, "LICENSEFIX_DLQ_MAX"},
		{[]string{"dlq", "replay", "--max-replays", "0"}, "LICENSEFIX_DLQ_MAX_REPLAYS"},
		{[]string{"dlq", "replay", "--receive-timeout", "0"}, "LICENSEFIX_DLQ_RECEIVE_TIMEOUT"},
		{[]string{"dlq", "replay", "--dry-run=maybe"}, "LICENSEFIX_DLQ_DRY_RUN"},
	}
	for _, tc := range tests {
		code, _, errOut := runCLI(t, env, tc.args...)
		assert.Equal(t, ExitUsage, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.setting, "%v", tc.args)
	}
	code, _, errOut := runCLI(t, env, "dlq")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "list, replay or purge")
	code, _, _ = runCLI(t, env, "dlq", "frobnicate")
	assert.Equal(t, ExitUsage, code)
	code, _, _ = runCLI(t, env, "dlq", "--help")
	assert.Equal(t, ExitOK, code)
	code, _, errOut = runCLI(t, env, "dlq", "replay", "--help")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, errOut, "LICENSEFIX_DLQ_MAX_REPLAYS")
	assert.Contains(t, errOut, "(also --reason, repeatable, comma-separated)")
	code, _, errOut = runCLI(t, env, "send", "--help")
	assert.Equal(t, ExitOK, code)
	assert.Contains(t, errOut, "(also --user-id, repeatable, comma-separated)")
}

func TestDLQText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "-", dlqText(""))
	assert.Equal(t, "a b c", dlqText("a\nb\x1bc"))
}

// deadLetterUsers sends one message per user and dead-letters it with the
// given reason and the worker's properties, in order.
func deadLetterUsers(t *testing.T, srv *sbemu.Server, reasons map[string]string, users ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	defer client.Close(ctx)
	sender, err := client.NewSender(sbemu.DefaultQueueName, nil)
	require.NoError(t, err)
	rcv, err := client.NewReceiverForQueue(sbemu.DefaultQueueName, nil)
	require.NoError(t, err)
	for _, u := range users {
		body, err := messages.Encode(messages.LicenseFixed{UserID: u})
		require.NoError(t, err)
		id := "m-" + u
		require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: body, ContentType: ptrTo(messages.ContentTypeJSON)}, nil))
		got, err := rcv.ReceiveMessages(ctx, 1, nil)
		require.NoError(t, err)
		require.Len(t, got, 1)
		reason := reasons[u]
		require.NoError(t, rcv.DeadLetterMessage(ctx, got[0], &azservicebus.DeadLetterOptions{
			Reason: &reason, ErrorDescription: ptrTo("Graph said\nno"),
			PropertiesToModify: map[string]any{dlq.PropUserID: u, dlq.PropReason: reason, dlq.PropGraphErrorCode: "Code_" + reason, dlq.PropHTTPStatus: int32(400)},
		}))
	}
	require.NoError(t, sender.Close(ctx))
	require.NoError(t, rcv.Close(ctx))
}

func ptrTo[T any](v T) *T { return &v }

var cliReasons = map[string]string{
	"alice@contoso.com": dlq.ReasonUserNotFound,
	"bob@contoso.com":   dlq.ReasonGraphRejected,
	"carol@contoso.com": dlq.ReasonUserNotFound,
}

func TestDLQListOutputs(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "bob@contoso.com", "carol@contoso.com")

	code, out, errOut := runCLIStdin(t, env, "", "dlq", "list")
	require.Equal(t, ExitOK, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^SEQ\s+ENQUEUED\s+STATE\s+REASON\s+USER\s+DELIVERIES\s+DESCRIPTION$`, lines[0])
	assert.Regexp(t, `^\d+\s+\S+Z\s+active\s+UserNotFound\s+alice@contoso.com\s+1\s+Graph said no$`, lines[1])

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "list", "--json", "--reason", "UserNotFound")
	require.Equal(t, ExitOK, code, errOut)
	var entries []dlq.Entry
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	require.Len(t, entries, 2)
	assert.Equal(t, "alice@contoso.com", entries[0].UserID)
	assert.Equal(t, "carol@contoso.com", entries[1].UserID)
	assert.Equal(t, "m-alice@contoso.com", entries[0].MessageID)
	assert.Equal(t, "Graph said\nno", entries[0].Description)
	assert.Equal(t, "Code_UserNotFound", entries[0].ApplicationProperties[dlq.PropGraphErrorCode])
	assert.InDelta(t, 400, entries[0].ApplicationProperties[dlq.PropHTTPStatus], 0)
	assert.Equal(t, "UserNotFound", entries[0].ApplicationProperties["DeadLetterReason"])
	assert.JSONEq(t, `{"userId":"alice@contoso.com"}`, entries[0].Body)

	env["LICENSEFIX_DLQ_USER_ID"] = "BOB@contoso.com"
	code, out, errOut = runCLIStdin(t, env, "", "dlq", "list", "--json", "--since", "1h", "--limit", "5")
	require.Equal(t, ExitOK, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	require.Len(t, entries, 1)
	assert.Equal(t, dlq.ReasonGraphRejected, entries[0].Reason)
	delete(env, "LICENSEFIX_DLQ_USER_ID")

	code, out, _ = runCLIStdin(t, env, "", "dlq", "list", "--json", "--until", "1h")
	require.Equal(t, ExitOK, code)
	assert.Equal(t, "[]\n", out)

	// Repeated filter flags add up; the flag replaces the variable.
	env["LICENSEFIX_DLQ_REASON"] = "InvalidMessage"
	code, out, errOut = runCLIStdin(t, env, "", "dlq", "list", "--json", "--reason", "GraphRejected", "--reason", "UserNotFound")
	require.Equal(t, ExitOK, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	assert.Len(t, entries, 3)
	delete(env, "LICENSEFIX_DLQ_REASON")

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "list", "--summary")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "REASON                COUNT\nUserNotFound          2\nGraphRejected         1\n  Code_GraphRejected  1\nTOTAL                 3\n", out)

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "list", "--summary", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var s dlq.Summary
	require.NoError(t, json.Unmarshal([]byte(out), &s))
	assert.Equal(t, 3, s.Total)
	assert.Len(t, peekAll(t, srv, azservicebus.SubQueueDeadLetter), 3, "list changes nothing")
}

func TestDLQReplayCommand(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "bob@contoso.com", "carol@contoso.com")

	code, out, errOut := runCLIStdin(t, env, "", "dlq", "replay", "--reason", "UserNotFound", "--dry-run")
	require.Equal(t, ExitOK, code, errOut)
	assert.Regexp(t, `(?m)^SEQ\s+MESSAGE ID\s+NEW MESSAGE ID`, out)
	assert.Regexp(t, `(?m)^\d+\s+m-alice@contoso.com\s+m-alice@contoso.com-replay1-seq\d+\s+UserNotFound\s+alice@contoso.com\s+active`, out)
	assert.Contains(t, out, "dry run: would replay 2, skipped 0; would defer 1 non-matching messages standing before a match (sequence numbers 2)")
	assert.Contains(t, errOut, `"msg":"replay_audit"`)
	assert.Empty(t, peekAll(t, srv, 0), "dry run moves nothing")

	env["LICENSEFIX_DLQ_REASON"] = "UserNotFound"
	code, out, errOut = runCLIStdin(t, env, "", "dlq", "replay", "--rate", "100/s")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "replayed 2, skipped 0, failed 0; deferred 1 non-matching messages")
	assert.Contains(t, errOut, `"msg":"replay_audit"`)
	assert.Contains(t, errOut, `"replayed":2`)
	assert.Equal(t, []string{"alice@contoso.com", "carol@contoso.com"}, decodedUsers(t, peekAll(t, srv, 0)))
	left := peekAll(t, srv, azservicebus.SubQueueDeadLetter)
	require.Len(t, left, 1)
	assert.Equal(t, azservicebus.MessageStateDeferred, left[0].State)

	delete(env, "LICENSEFIX_DLQ_REASON")
	code, out, errOut = runCLIStdin(t, env, "", "dlq", "replay", "--json")
	require.Equal(t, ExitOK, code, errOut)
	var rep dlq.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Replayed, 1)
	assert.Equal(t, "m-bob@contoso.com", rep.Replayed[0].MessageID)
	assert.Empty(t, peekAll(t, srv, azservicebus.SubQueueDeadLetter))
}

func TestDLQReplayExitsOneOnFailure(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "bob@contoso.com")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	defer client.Close(ctx)
	other, err := client.NewReceiverForQueue(sbemu.DefaultQueueName, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	require.NoError(t, err)
	held, err := other.ReceiveMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, held, 1)

	code, out, errOut := runCLIStdin(t, env, "", "dlq", "replay", "--receive-timeout", "1s")
	assert.Equal(t, ExitFailure, code)
	assert.Contains(t, out, "failed "+strconv.FormatInt(*held[0].SequenceNumber, 10)+" (message m-alice@contoso.com)")
	assert.Contains(t, out, "replayed 1, skipped 0, failed 1")
	assert.Contains(t, errOut, "1 message(s) failed to replay")
	require.NoError(t, other.AbandonMessage(ctx, held[0], nil))
	require.NoError(t, other.Close(ctx))
}

func TestDLQReplayInterruptedExits130WithPartialSummary(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "bob@contoso.com", "carol@contoso.com")

	// One send every ~17 minutes: after the first copy the replay waits for
	// its next slot, holding no lock, until "Ctrl-C".
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	done := make(chan int, 1)
	go func() { done <- Main(ctx, e, []string{"dlq", "replay", "--rate", "0.001/s"}) }()
	require.Eventually(t, func() bool { return len(peekAll(t, srv, 0)) == 1 }, time.Minute, 50*time.Millisecond)
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(time.Minute):
		t.Fatal("replay did not stop on cancellation")
	}
	assert.Equal(t, ExitInterrupted, code, errb.String())
	assert.Contains(t, out.String(), "replayed 1, skipped 0, failed 0; interrupted: 2 selected not handled and still in the DLQ\n", "the partial summary is printed")
	assert.Contains(t, errb.String(), "replay interrupted; 2 selected message(s) not handled are still in the DLQ, unlocked")
	assert.Contains(t, errb.String(), `"phase":"end"`)
	assert.Contains(t, errb.String(), `"interrupted":true`)

	// Nothing was left locked: an immediate second run finishes the job.
	code, stdout, stderr := runCLIStdin(t, env, "", "dlq", "replay", "--receive-timeout", "2s")
	require.Equal(t, ExitOK, code, stderr)
	assert.Contains(t, stdout, "replayed 2, skipped 0, failed 0")
	assert.Len(t, peekAll(t, srv, 0), 3)
	assert.Empty(t, peekAll(t, srv, azservicebus.SubQueueDeadLetter))
}

func TestDLQReplayDryRunListsDeferrals(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	deadLetterUsers(t, srv, cliReasons, "alice@contoso.com", "bob@contoso.com", "carol@contoso.com")
	seqs := peekAll(t, srv, azservicebus.SubQueueDeadLetter)
	require.Len(t, seqs, 3)

	code, out, errOut := runCLIStdin(t, env, "", "dlq", "replay", "--reason", "UserNotFound", "--dry-run")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, fmt.Sprintf("dry run: would replay 2, skipped 0; would defer 1 non-matching messages standing before a match (sequence numbers %d)", *seqs[1].SequenceNumber))

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "replay", "--reason", "UserNotFound")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, fmt.Sprintf("deferred 1 non-matching messages (sequence numbers %d)", *seqs[1].SequenceNumber), "the real run defers what the dry run said")
}
