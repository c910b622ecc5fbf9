package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

// lockedBuffer is a bytes.Buffer safe to read while a command writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startCommand runs a long-running subcommand in the background and
// returns its first stdout line and a stop function returning the exit code.
func startCommand(t *testing.T, env map[string]string, args ...string) (firstLine string, stderr *lockedBuffer, stop func() int) {
	t.Helper()
	out, errb, stop := startCommandOutput(t, env, args...)
	return strings.TrimSpace(strings.SplitN(out.String(), "\n", 2)[0]), errb, stop
}

// startCommandOutput is startCommand returning all of stdout, from the
// moment its first line is complete.
func startCommandOutput(t *testing.T, env map[string]string, args ...string) (stdout, stderr *lockedBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errb := &lockedBuffer{}, &lockedBuffer{}
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: out, Stderr: errb}
	done := make(chan int, 1)
	go func() { done <- Main(ctx, e, args) }()
	var code int
	var exited bool
	require.Eventually(t, func() bool {
		select {
		case code = <-done:
			exited = true
			return true
		default:
		}
		return strings.Contains(out.String(), "\n")
	}, 10*time.Second, 10*time.Millisecond)
	if exited {
		cancel()
		t.Fatalf("%s exited early with %d: %s", args[0], code, errb.String())
	}
	stopped := false
	stop = func() int {
		if stopped {
			return code
		}
		stopped = true
		cancel()
		code = <-done
		return code
	}
	t.Cleanup(func() { stop() })
	return out, errb, stop
}

func TestEmulatorSubcommandServesTheSDK(t *testing.T) {
	t.Parallel()
	cs, stderr, stop := startCommand(t, nil, "emulator", "--listen", "127.0.0.1:0")
	assert.Contains(t, cs, "SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true")
	assert.NotContains(t, stderr.String(), "SAS_KEY_VALUE", "the key must not reach the log")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(cs, nil)
	require.NoError(t, err)
	defer client.Close(ctx)
	sender, err := client.NewSender("license-fixed", nil)
	require.NoError(t, err)
	require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{Body: []byte(`{"userId":"alice@contoso.com"}`)}, nil))
	receiver, err := client.NewReceiverForQueue("license-fixed", nil)
	require.NoError(t, err)
	msgs, err := receiver.ReceiveMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, receiver.CompleteMessage(ctx, msgs[0], nil))
	require.NoError(t, client.Close(ctx))
	assert.Equal(t, ExitOK, stop())
}

func TestEmulatorSubcommandConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "Config.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"UserConfig":{"Namespaces":[{"Name":"sbemulatorns","Queues":[{"Name":"other","Properties":{"LockDuration":"PT30S","MaxDeliveryCount":3}}]}],"Logging":{"Type":"File"}}}`), 0o600))
	cs, _, stop := startCommand(t, map[string]string{"LICENSEFIX_EMULATOR_CONFIG": good}, "emulator", "--listen", "127.0.0.1:0", "--key", "another-key")
	assert.Contains(t, cs, "SharedAccessKey=another-key")
	assert.Equal(t, ExitOK, stop())

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"UserConfig":{"Namespaces":[{"Name":"n","Queues":[{"Name":"q","Properties":{"LockDuration":"soon"}}]}]}}`), 0o600))
	code, _, errOut := runCLI(t, nil, "emulator", "--listen", "127.0.0.1:0", "--config", bad)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_EMULATOR_CONFIG")
	assert.Contains(t, errOut, "LockDuration")

	// A rule that does not parse stops start-up, naming topic, subscription and rule.
	badRule := filepath.Join(dir, "bad-rule.json")
	require.NoError(t, os.WriteFile(badRule, []byte(`{"UserConfig":{"Namespaces":[{"Name":"sbemulatorns","Queues":[],"Topics":[{"Name":"orders",`+
		`"Subscriptions":[{"Name":"eu","Rules":[{"Name":"by-region","Properties":{"FilterType":"Sql","SqlFilter":{"SqlExpression":"region = = 'eu'"}}}]}]}]}],"Logging":{"Type":"File"}}}`), 0o600))
	code, _, errOut = runCLI(t, nil, "emulator", "--listen", "127.0.0.1:0", "--config", badRule)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_EMULATOR_CONFIG")
	assert.Contains(t, errOut, `topic "orders", subscription "eu", rule "by-region"`)
}

func TestGraphsimSubcommandServesTheDemoScenario(t *testing.T) {
	t.Parallel()
	url, _, stop := startCommand(t, nil, "graphsim", "--listen", "127.0.0.1:0")
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	call := func(user string) int {
		req, err := http.NewRequest(http.MethodPost, url+"/beta/users/"+user+"/cloudLicensing/assignments/reprocessAssignments", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, call(graphsim.DemoHealthyUser1))
	assert.Equal(t, http.StatusNotFound, call(graphsim.DemoUnknownUser))
	http.DefaultClient.CloseIdleConnections()
	assert.Equal(t, ExitOK, stop())
}

func TestGraphsimSubcommandBadScenario(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"nope":1}`), 0o600))
	code, _, errOut := runCLI(t, nil, "graphsim", "--scenario", bad)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_GRAPHSIM_SCENARIO")
}

func TestEmulatorSubcommandTLSListener(t *testing.T) {
	t.Parallel()
	certOut := filepath.Join(t.TempDir(), "emulator-ca.pem")
	out, stderr, stop := startCommandOutput(t, nil, "emulator", "--listen", "127.0.0.1:0",
		"--tls-listen", "127.0.0.1:0", "--tls-cert-out", certOut)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, "the plain and the TLS connection string")
	assert.Contains(t, lines[0], "UseDevelopmentEmulator=true")
	tlsCS := lines[1]
	assert.True(t, strings.HasPrefix(tlsCS, "Endpoint=sb://127.0.0.1:"), tlsCS)
	assert.NotContains(t, tlsCS, "UseDevelopmentEmulator", "the TLS string makes the SDKs use amqps")
	assert.NotContains(t, stderr.String(), "SAS_KEY_VALUE", "the key must not reach the log")

	// The Go SDK over TLS, trusting the certificate the command wrote.
	pemBytes, err := os.ReadFile(certOut)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes), "the written file holds a PEM certificate")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, err := azservicebus.NewClientFromConnectionString(tlsCS, &azservicebus.ClientOptions{
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, // not "host:port"
	})
	require.NoError(t, err)
	defer client.Close(ctx)
	sender, err := client.NewSender("license-fixed", nil)
	require.NoError(t, err)
	require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{Body: []byte(`{"userId":"alice@contoso.com"}`)}, nil))
	receiver, err := client.NewReceiverForQueue("license-fixed", nil)
	require.NoError(t, err)
	msgs, err := receiver.ReceiveMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, receiver.CompleteMessage(ctx, msgs[0], nil))
	require.NoError(t, client.Close(ctx))
	assert.Equal(t, ExitOK, stop())
}

func TestEmulatorSubcommandTLSSettingsNamed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	require.NoError(t, os.WriteFile(junk, []byte("not a certificate"), 0o600))
	for _, tc := range []struct {
		args    []string
		setting string
	}{
		{[]string{"--tls-cert", junk, "--tls-key", junk}, "LICENSEFIX_EMULATOR_TLS_CERT"}, // no --tls-listen
		{[]string{"--tls-key", junk}, "LICENSEFIX_EMULATOR_TLS_KEY"},
		{[]string{"--tls-cert-out", junk}, "LICENSEFIX_EMULATOR_TLS_CERT_OUT"},
		{[]string{"--tls-listen", "127.0.0.1:0"}, "LICENSEFIX_EMULATOR_TLS_CERT_OUT"}, // generated, nowhere to write it
		{[]string{"--tls-listen", "127.0.0.1:0", "--tls-cert", junk}, "LICENSEFIX_EMULATOR_TLS_KEY"},
		{[]string{"--tls-listen", "127.0.0.1:0", "--tls-key", junk}, "LICENSEFIX_EMULATOR_TLS_CERT"},
		{[]string{"--tls-listen", "127.0.0.1:0", "--tls-cert", junk, "--tls-key", junk}, "LICENSEFIX_EMULATOR_TLS_CERT"},
		{[]string{"--tls-listen", "127.0.0.1:0", "--tls-cert", junk, "--tls-key", junk, "--tls-cert-out", filepath.Join(dir, "x.pem")}, "LICENSEFIX_EMULATOR_TLS_CERT_OUT"},
	} {
		args := append([]string{"emulator", "--listen", "127.0.0.1:0"}, tc.args...)
		code, _, errOut := runCLI(t, nil, args...)
		assert.Equal(t, ExitUsage, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.setting, "%v", tc.args)
	}
}
