package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dummyConn is a well-formed connection string for tests that fail before
// connecting.
const dummyConn = "Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=secretvalue;UseDevelopmentEmulator=true"

func TestParseIDsLines(t *testing.T) {
	t.Parallel()
	got, err := parseIDs([]byte("\uFEFFalice@contoso.com\r\n\n# a comment\n  bob@contoso.com  \n4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"))
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
	got, err := parseIDs([]byte(in))
	require.NoError(t, err)
	assert.Equal(t, []inputID{
		{where: "line 2", id: "alice@contoso.com"},
		{where: "line 4", id: "bob@contoso.com"},
		{where: "line 5", id: ""},
		{where: "line 6", id: "carol@contoso.com"},
	}, got)

	_, err = parseIDs([]byte("userId\n\"unterminated\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CSV line 2")

	// A lone header is CSV; a first line without userId is the line format.
	got, err = parseIDs([]byte("userId\nalice@contoso.com\n"))
	require.NoError(t, err)
	assert.Equal(t, []inputID{{where: "line 2", id: "alice@contoso.com"}}, got)
	got, err = parseIDs([]byte("alice@contoso.com,extra\n"))
	require.NoError(t, err)
	assert.Equal(t, []inputID{{where: "line 1", id: "alice@contoso.com,extra"}}, got)
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
