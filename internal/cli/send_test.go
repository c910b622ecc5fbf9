package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/messages"
	"github.com/licensefix/licensefix/sbemu"
)

// dummyConn is a well-formed connection string for tests that fail before
// connecting.
const dummyConn = "Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=secretvalue;UseDevelopmentEmulator=true"

func TestParseIDsLines(t *testing.T) {
	t.Parallel()
	got, err := parseIDs([]byte("\uFEFFalice@contoso.com\r\n\n# a comment\n  bob@contoso.com  \n4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"), false)
	require.NoError(t, err)
	assert.Equal(t, []inputID{
		{where: "line 1", id: "alice@contoso.com"},
		{where: "line 4", id: "bob@contoso.com"},
		{where: "line 5", id: "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"},
	}, got)
}

func TestParseIDsCSV(t *testing.T) {
	t.Parallel()
	in := "\uFEFFname,UserId,dept\n" +
		"Alice,alice@contoso.com,HR\n" +
		"\n" +
		"\"Bob, Jr.\", bob@contoso.com ,IT\n" +
		"short\n" +
		"\"multi\nline\",carol@contoso.com,X\n"
	got, err := parseIDs([]byte(in), false)
	require.NoError(t, err)
	assert.Equal(t, []inputID{
		{where: "line 2", id: "alice@contoso.com"},
		{where: "line 4", id: "bob@contoso.com"},
		{where: "line 5", id: ""},
		{where: "line 6", id: "carol@contoso.com"},
	}, got)

	_, err = parseIDs([]byte("userId\n\"unterminated\n"), false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CSV line 2")

	// A lone header is CSV; a single column without a known name is the
	// line format.
	got, err = parseIDs([]byte("userId\nalice@contoso.com\n"), false)
	require.NoError(t, err)
	assert.Equal(t, []inputID{{where: "line 2", id: "alice@contoso.com"}}, got)
	got, err = parseIDs([]byte("alice@contoso.com\n"), false)
	require.NoError(t, err)
	assert.Equal(t, []inputID{{where: "line 1", id: "alice@contoso.com"}}, got)
}

func TestParseIDsCSVColumnNames(t *testing.T) {
	t.Parallel()
	for _, header := range []string{"userId", "USERID", "id", "Id", "objectId", "ObjectID", "userPrincipalName", "UserPrincipalName"} {
		got, err := parseIDs([]byte("name,"+header+"\nAlice,alice@contoso.com\n"), false)
		require.NoError(t, err, header)
		assert.Equal(t, []inputID{{where: "line 2", id: "alice@contoso.com"}}, got, header)
	}
	// Several candidates: userId wins over id, id over objectId, objectId
	// over userPrincipalName.
	got, err := parseIDs([]byte("userPrincipalName,objectId,name\nalice@contoso.com,4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51,Alice\n"), false)
	require.NoError(t, err)
	assert.Equal(t, "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51", got[0].id)
	// Comment lines before the header (an export's banner) are skipped.
	got, err = parseIDs([]byte("# exported 2026-11-28\nmail,Id\nx@contoso.com,bob@contoso.com\n"), false)
	require.NoError(t, err)
	assert.Equal(t, []inputID{{where: "line 3", id: "bob@contoso.com"}}, got)

	// No id column: a usage error naming the columns looked for and found.
	for _, tc := range []struct {
		in    string
		isCSV bool
	}{{"name,mail\nAlice,alice@contoso.com\n", false}, {"mail\nalice@contoso.com\n", true}} {
		_, err = parseIDs([]byte(tc.in), tc.isCSV)
		require.Error(t, err, tc.in)
		assert.Equal(t, ExitUsage, ExitCode(err), tc.in)
		assert.Contains(t, err.Error(), "looked for userId, id, objectId, userPrincipalName (any letter case)")
		assert.Contains(t, err.Error(), `"mail"`)
	}
}

func TestValidateAndDedupe(t *testing.T) {
	t.Parallel()
	valid, invalid := validateIDs([]inputID{
		{"line 1", "alice@contoso.com"},
		{"line 2", "not an id"},
		{"line 3", ""},
		{"line 4", "ALICE@contoso.com"},
		{"line 5", "../users"},
		{"line 6", "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"},
	})
	assert.Equal(t, []inputID{{"line 1", "alice@contoso.com"}, {"line 4", "ALICE@contoso.com"}, {"line 6", "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"}}, valid)
	require.Len(t, invalid, 3)
	assert.Equal(t, "line 2", invalid[0].where)
	assert.Contains(t, invalid[0].problem, "invalid user id")
	assert.Equal(t, invalidID{"line 3", "no user id"}, invalid[1])
	assert.Equal(t, "line 5", invalid[2].where)
	assert.NotContains(t, invalid[2].problem, "../users", "the id is never echoed")

	out, dropped := dedupe(valid)
	assert.Equal(t, 1, dropped)
	assert.Equal(t, []inputID{{"line 1", "alice@contoso.com"}, {"line 6", "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"}}, out)
}

func TestSendBuild(t *testing.T) {
	t.Parallel()
	st := &sendSettings{source: "workday", correlationID: "hr-1"}
	msgs, err := st.build([]inputID{{"line 1", "alice@contoso.com"}, {"line 2", "bob@contoso.com"}})
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.JSONEq(t, `{"userId":"alice@contoso.com","source":"workday","correlationId":"hr-1"}`, string(msgs[0].Body))
	assert.Equal(t, "application/json", *msgs[0].ContentType)
	assert.Equal(t, "hr-1", *msgs[0].CorrelationID)
	assert.NotEqual(t, *msgs[0].MessageID, *msgs[1].MessageID)

	st = &sendSettings{cloudEvents: true, cloudEventType: DefaultCloudEventType}
	msgs, err = st.build([]inputID{{"line 1", "alice@contoso.com"}})
	require.NoError(t, err)
	assert.Equal(t, "application/cloudevents+json", *msgs[0].ContentType)
	assert.Nil(t, msgs[0].CorrelationID)
	assert.Contains(t, string(msgs[0].Body), `"type":"com.licensefix.user.license-fixed"`)
	assert.Contains(t, string(msgs[0].Body), `"id":"`+*msgs[0].MessageID+`"`)
	assert.Contains(t, string(msgs[0].Body), `"source":"/licensefix/send"`)
}

func TestSendUsageErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": dummyConn}
	code, _, errOut := runCLI(t, env, "send")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "--user-id")

	code, _, errOut = runCLI(t, env, "send", "--user-id", "alice@contoso.com", "--source", "bad\nsource")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_SEND_SOURCE")

	code, _, errOut = runCLI(t, env, "send", "--user-id", "alice@contoso.com", "--cloudevents", "--cloudevent-type", "")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_SEND_CLOUDEVENT_TYPE")

	code, _, errOut = runCLI(t, nil, "send", "--user-id", "alice@contoso.com")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_SERVICEBUS_CONNECTION_STRING")
	assert.NotContains(t, errOut, "secretvalue")
}

func TestSendInvalidInputSendsNothing(t *testing.T) {
	t.Parallel()
	// The connection string points nowhere: reaching Service Bus would
	// fail differently, so this proves nothing is attempted.
	env := map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": dummyConn}
	file := filepath.Join(t.TempDir(), "ids.txt")
	require.NoError(t, os.WriteFile(file, []byte("alice@contoso.com\nnot valid\n\nbob@@x\n"), 0o600))
	code, out, errOut := runCLI(t, env, "send", "--from", file)
	assert.Equal(t, ExitFailure, code)
	assert.Contains(t, errOut, "line 2: invalid user id")
	assert.Contains(t, errOut, "line 4: invalid user id")
	assert.Contains(t, errOut, "2 invalid user id(s); nothing sent")
	assert.Empty(t, out)
	assert.NotContains(t, errOut, "secretvalue")

	code, _, errOut = runCLI(t, env, "send", "--from", filepath.Join(t.TempDir(), "missing.txt"))
	assert.Equal(t, ExitFailure, code)
	assert.Contains(t, errOut, "--from")

}

// emulator starts sbemu with the default queue and returns the settings
// that point licensefix at it.
func emulator(t *testing.T) (*sbemu.Server, map[string]string) {
	t.Helper()
	srv, err := sbemu.NewServer(&sbemu.Options{TB: t})
	require.NoError(t, err)
	return srv, map[string]string{
		"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": srv.ConnectionString(),
		"LICENSEFIX_QUEUE":                        sbemu.DefaultQueueName,
		"LICENSEFIX_LOG_FORMAT":                   "json",
	}
}

// runCLIStdin is runCLI with stdin.
func runCLIStdin(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = Main(ctx, e, args)
	return code, out.String(), errb.String()
}

// peekAll returns every message of the queue (or its DLQ), in order.
func peekAll(t *testing.T, srv *sbemu.Server, sub azservicebus.SubQueue) []*azservicebus.ReceivedMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	defer client.Close(ctx)
	rcv, err := client.NewReceiverForQueue(sbemu.DefaultQueueName, &azservicebus.ReceiverOptions{SubQueue: sub})
	require.NoError(t, err)
	defer rcv.Close(ctx)
	var out []*azservicebus.ReceivedMessage
	from := int64(1)
	for {
		page, err := rcv.PeekMessages(ctx, 250, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		from = *page[len(page)-1].SequenceNumber + 1
	}
}

func decodedUsers(t *testing.T, msgs []*azservicebus.ReceivedMessage) []string {
	t.Helper()
	var users []string
	for _, m := range msgs {
		lf, err := messages.Decode(messages.Raw{ContentType: *m.ContentType, ApplicationProperties: m.ApplicationProperties, Body: m.Body}, messages.DecodeOptions{})
		require.NoError(t, err)
		users = append(users, lf.UserID)
	}
	return users
}

func TestSendFromFileInvalidLinesThenSkipInvalid(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	file := filepath.Join(t.TempDir(), "ids.txt")
	require.NoError(t, os.WriteFile(file, []byte("alice@contoso.com\nnot valid\n\nbob@contoso.com\n../etc/passwd\n"), 0o600))

	code, out, errOut := runCLIStdin(t, env, "", "send", "--from", file)
	assert.Equal(t, ExitFailure, code)
	assert.Contains(t, errOut, "line 2: invalid user id")
	assert.Contains(t, errOut, "line 5: invalid user id")
	assert.NotContains(t, errOut, "line 1:")
	assert.NotContains(t, errOut, "line 4:")
	assert.Empty(t, out)
	assert.Empty(t, peekAll(t, srv, 0), "nothing sent")

	code, out, errOut = runCLIStdin(t, env, "", "send", "--from", file, "--skip-invalid", "--correlation-id", "hr-4711", "--source", "workday")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "sent 2\n", out)
	assert.Contains(t, errOut, "line 2: invalid user id")
	msgs := peekAll(t, srv, 0)
	require.Len(t, msgs, 2)
	assert.Equal(t, []string{"alice@contoso.com", "bob@contoso.com"}, decodedUsers(t, msgs))
	for _, m := range msgs {
		assert.Equal(t, "application/json", *m.ContentType)
		assert.Equal(t, "hr-4711", *m.CorrelationID)
		_, err := uuid.Parse(m.MessageID)
		assert.NoError(t, err, "message id is a GUID")
		assert.Contains(t, string(m.Body), `"source":"workday"`)
	}
	assert.NotEqual(t, msgs[0].MessageID, msgs[1].MessageID)
}

func TestSendFromStdinCSVDuplicatesAndCloudEvents(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	csvIn := "name,userId\nAlice,alice@contoso.com\nAlice again,ALICE@contoso.com\nBob,bob@contoso.com\n"

	code, out, errOut := runCLIStdin(t, env, csvIn, "send", "--from", "-", "--cloudevents")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "sent 2\n", out)
	assert.Contains(t, errOut, "ignored 1 duplicate id(s)")
	msgs := peekAll(t, srv, 0)
	require.Len(t, msgs, 2)
	for _, m := range msgs {
		assert.Equal(t, messages.ContentTypeCloudEvent, *m.ContentType)
		lf, err := messages.Decode(messages.Raw{ContentType: *m.ContentType, Body: m.Body}, messages.DecodeOptions{CloudEventTypes: []string{DefaultCloudEventType}})
		require.NoError(t, err)
		require.NotNil(t, lf.CloudEvent)
		assert.Equal(t, "structured", lf.CloudEvent.Mode)
		assert.Equal(t, m.MessageID, lf.CloudEvent.ID)
		assert.Equal(t, "/licensefix/send", lf.CloudEvent.Source)
	}

	code, out, errOut = runCLIStdin(t, env, csvIn, "send", "--from", "-", "--keep-duplicates")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "sent 3\n", out)
	assert.Len(t, peekAll(t, srv, 0), 5)

	// Invalid CSV rows are reported by line and stop everything.
	code, _, errOut = runCLIStdin(t, env, "userId\nok@contoso.com\nbad id\n", "send", "--from", "-")
	assert.Equal(t, ExitFailure, code)
	assert.Contains(t, errOut, "line 3: invalid user id")
	assert.Len(t, peekAll(t, srv, 0), 5)
}

func TestSendFlagsAndEnvAndBulkBatches(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	env["LICENSEFIX_SEND_USER_IDS"] = "carol@contoso.com, dave@contoso.com"
	code, out, errOut := runCLIStdin(t, env, "", "send")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "sent 2\n", out)
	// Flags win over the variable; --user-id repeats and takes commas.
	code, out, errOut = runCLIStdin(t, env, "", "send", "--user-id", "alice@contoso.com", "--user-id", "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51,erin@contoso.com")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "sent 3\n", out)
	assert.Equal(t, []string{"carol@contoso.com", "dave@contoso.com", "alice@contoso.com", "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51", "erin@contoso.com"}, decodedUsers(t, peekAll(t, srv, 0)))

	// 3000 ids do not fit one 256 KiB batch: send splits on ErrMessageTooLarge.
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "user%04d.with.a.rather.long.name.to.fill.batches@contoso.com\n", i)
	}
	delete(env, "LICENSEFIX_SEND_USER_IDS")
	code, out, errOut = runCLIStdin(t, env, b.String(), "send", "--from", "-")
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "sent 3000\n", out)
	stats, err := srv.QueueStats(sbemu.DefaultQueueName)
	require.NoError(t, err)
	assert.Equal(t, 3005, stats.Active)
}
