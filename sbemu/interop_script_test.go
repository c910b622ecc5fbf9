package sbemu_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu"
)

// The Node (conformance.mjs) and Python (conformance.py) suites speak the
// same line protocol on stdout: one JSON object per check,
// {"name","ok","error","ms"}, and control requests {"control": ...} that
// the harness answers with one line on the script's stdin ("ok" or an
// error text) after injecting the fault into the emulator.

// interopResult is one check result line of a conformance script.
type interopResult struct {
	Name  string  `json:"name"`
	OK    bool    `json:"ok"`
	Error *string `json:"error"`
	MS    int64   `json:"ms"`
}

// interopLine is one stdout line of a conformance script: a check result,
// or a control request (a fault the script wants injected).
type interopLine struct {
	interopResult
	Control string `json:"control"`
}

// parseInteropLine decodes one line, refusing anything that is neither a
// named result nor a control request.
func parseInteropLine(script, line string) (interopLine, error) {
	var l interopLine
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return interopLine{}, fmt.Errorf("%s printed a line that is neither a check result nor a control request: %s", script, line)
	}
	if (l.Name == "") == (l.Control == "") {
		return interopLine{}, fmt.Errorf("%s printed a line with neither or both of name and control: %s", script, line)
	}
	return l, nil
}

// interopControl carries out one control request of a conformance script
// and returns its answer line: "ok" or an error text. who names the test
// in the injected faults' descriptions.
func interopControl(srv *sbemu.Server, req, who string) string {
	switch {
	case req == "drop-connections":
		srv.DropConnections()
	case strings.HasPrefix(req, "detach-forced:"):
		entity := strings.TrimPrefix(req, "detach-forced:")
		if srv.DetachLinks(entity, "amqp:link:detach-forced", "detached by "+who) == 0 {
			return "error: no link attached to " + entity
		}
	case req == "server-busy-once":
		srv.FailManagement(1, 503, "com.microsoft:server-busy")
	default:
		return "error: unknown control request"
	}
	return "ok"
}

// requireInterop skips the test when what is missing, or fails it under
// CI=true (CI must run every SDK's suite).
func requireInterop(t *testing.T, what, howTo string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true requires it; %s)", what, howTo)
	}
	t.Skipf("%s; %s", what, howTo)
}

// runInteropScript runs cmd (a conformance script, built with
// exec.CommandContext(runCtx, ...)), answers its control requests, checks
// that its exit status agrees with its results, and returns the results
// and its stderr. A script that does not finish while runCtx lasts (a hung
// SDK) fails the test.
func runInteropScript(t *testing.T, runCtx context.Context, srv *sbemu.Server, script string, cmd *exec.Cmd) ([]interopResult, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	var results []interopResult
	var parseErr error
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		stdout.WriteString(line + "\n")
		if strings.TrimSpace(line) == "" || parseErr != nil {
			continue
		}
		l, err := parseInteropLine(script, line)
		if err != nil {
			parseErr = err
			continue
		}
		if l.Control != "" {
			answer := interopControl(srv, l.Control, t.Name())
			t.Logf("control request %q: %s", l.Control, answer)
			_, _ = io.WriteString(stdin, answer+"\n")
			continue
		}
		results = append(results, l.interopResult)
	}
	_ = stdin.Close()
	runErr := cmd.Wait()
	require.NoError(t, runCtx.Err(), "%s did not finish in time; stdout:\n%s\nstderr:\n%s", script, stdout.String(), stderr.String())
	require.NoError(t, parseErr, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		require.NoError(t, runErr, "running %s", script)
	}
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	// Exit status and reported results must agree (a crash after the last
	// line, such as a SIGSEGV in a C library, or a failure without a line,
	// shows up here).
	if failed == 0 {
		require.NoError(t, runErr, "%s failed with every reported check passing; stderr:\n%s", script, stderr.String())
	} else {
		require.Error(t, runErr, "%s exited 0 with %d failed checks", script, failed)
	}
	return results, stderr.String()
}

// reportInteropResults turns each result into a subtest and fails the test
// for every expected check that was not reported.
func reportInteropResults(t *testing.T, script string, results []interopResult, want []string, stderr string) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range results {
		seen[r.Name] = true
		t.Run(r.Name, func(t *testing.T) {
			t.Logf("%d ms", r.MS)
			if !r.OK {
				msg := "(no error text)"
				if r.Error != nil {
					msg = *r.Error
				}
				t.Fatalf("check failed after %d ms: %s", r.MS, msg)
			}
		})
	}
	for _, name := range want {
		assert.True(t, seen[name], "%s did not report check %q", script, name)
	}
	if t.Failed() {
		t.Logf("%s stderr:\n%s", script, stderr)
	}
}

func TestParseInteropLine(t *testing.T) {
	t.Parallel()
	boom := "boom"
	for _, tc := range []struct {
		line string
		want interopLine
	}{
		{`{"name":"a","ok":true,"error":null,"ms":3}`, interopLine{interopResult: interopResult{Name: "a", OK: true, MS: 3}}},
		{`{"name":"b","ok":false,"error":"boom","ms":7}`, interopLine{interopResult: interopResult{Name: "b", Error: &boom, MS: 7}}},
		{`{"control":"drop-connections"}`, interopLine{Control: "drop-connections"}},
	} {
		got, err := parseInteropLine("script", tc.line)
		require.NoError(t, err, tc.line)
		require.Equal(t, tc.want, got, tc.line)
	}
	for _, bad := range []string{
		"Error: cannot find module",
		"Traceback (most recent call last):",
		`{"ok":true}`,
		`{"name":"a","ok":true,"extra":1}`,
		`{"name":"a","control":"drop-connections"}`,
	} {
		_, err := parseInteropLine("script", bad)
		require.Error(t, err, "input %q", bad)
	}
}

func TestInteropControl(t *testing.T) {
	t.Parallel()
	srv, err := sbemu.NewServer(&sbemu.Options{TB: t})
	require.NoError(t, err)
	require.Equal(t, "ok", interopControl(srv, "drop-connections", t.Name()))
	require.Equal(t, "ok", interopControl(srv, "server-busy-once", t.Name()))
	require.Equal(t, "error: no link attached to license-fixed", interopControl(srv, "detach-forced:license-fixed", t.Name()))
	require.Equal(t, "error: unknown control request", interopControl(srv, "reboot", t.Name()))
}

// sendGoToScript sends on queue, with message id msgID, the message a
// script's "receive-from-go" check expects.
func sendGoToScript(ctx context.Context, t *testing.T, client *azservicebus.Client, queue, msgID string) {
	t.Helper()
	sender, err := client.NewSender(queue, nil)
	require.NoError(t, err)
	defer func() { _ = sender.Close(ctx) }()
	contentType, subject, corr := "application/json", "license-fixed", "corr-go-1"
	require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{
		MessageID:     &msgID,
		ContentType:   &contentType,
		Subject:       &subject,
		CorrelationID: &corr,
		Body:          []byte(`{"user_id":"go-user-1","source":"go"}`),
		ApplicationProperties: map[string]any{
			"user_id": "go-user-1",
			"attempt": int64(3),
			"big":     int64(1) << 40,
			"neg":     int32(-7),
			"ratio":   0.25,
			"flag":    true,
			"label":   interopLabel,
			"when":    time.UnixMilli(interopWhenMs).UTC(),
		},
	}, nil))
}

// receiveScriptToGo reads from queue the message the sdk script's
// "send-to-go" check sent and checks it. sdkProps are the application
// properties whose AMQP type depends on how that SDK encodes its numbers
// (why says how); the others are the same from every SDK.
func receiveScriptToGo(ctx context.Context, t *testing.T, client *azservicebus.Client, queue, sdk string, sdkProps map[string]any, why string) {
	receiver, err := client.NewReceiverForQueue(queue, nil)
	require.NoError(t, err)
	defer func() { _ = receiver.Close(ctx) }()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err := receiver.ReceiveMessages(rctx, 1, nil)
	require.NoError(t, err, "no message from %s arrived", sdk)
	require.Len(t, msgs, 1)
	m := msgs[0]

	assert.Equal(t, sdk+"-to-go-1", m.MessageID)
	assert.Equal(t, "application/json", deref(m.ContentType))
	assert.Equal(t, "license-fixed", deref(m.Subject))
	assert.Equal(t, "corr-"+sdk+"-1", deref(m.CorrelationID))
	assert.EqualValues(t, 1, m.DeliveryCount, "Go reports header delivery-count + 1")
	assert.JSONEq(t, `{"user_id":"`+sdk+`-user-1","source":"`+sdk+`"}`, string(m.Body))
	want := map[string]any{
		"user_id": sdk + "-user-1",
		"neg":     int32(-7),
		"ratio":   0.25,
		"flag":    true,
		"label":   interopLabel,
		"when":    time.UnixMilli(interopWhenMs),
	}
	for k, v := range sdkProps {
		want[k] = v
	}
	assert.Equal(t, want, normalizeTimes(m.ApplicationProperties), why)
	require.NoError(t, receiver.CompleteMessage(ctx, m, nil))
}

// interopTopicChecks are the topic checks both scripts must report, the
// same rows as TestConformanceEmulatorTopics. Check NAME runs on its own
// topic "<base>-NAME", laid out as testdata/topics.json.
var interopTopicChecks = []string{
	"topic-send-reaches-matching-subscriptions",
	"topic-sql-filter-and-evaluation-error",
	"topic-sql-action-changes-the-copy",
	"topic-subscriptions-settle-independently",
	"topic-subscription-dead-letter-queue",
	"topic-subscription-management-peek-renew-defer",
	"topic-schedule-reaches-subscriptions-when-due",
	"topic-duplicate-detection",
	"topic-wrong-direction-refused",
	"topic-session-receiver-refused",
}

// addInteropTopics adds one topic per topic check to cfg, each a copy of
// the topic of testdata/topics.json named "<base>-<check>".
func addInteropTopics(t *testing.T, cfg *sbemu.Config, base string) {
	t.Helper()
	layout, err := sbemu.LoadConfig(filepath.Join("testdata", "topics.json"))
	require.NoError(t, err)
	ns := &cfg.UserConfig.Namespaces[0]
	for _, name := range interopTopicChecks {
		tp := layout.UserConfig.Namespaces[0].Topics[0]
		tp.Name = base + "-" + name
		ns.Topics = append(ns.Topics, tp)
	}
	require.NoError(t, cfg.Validate())
}
