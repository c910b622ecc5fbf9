package sbemu

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
)

// tlsClient connects the Go SDK to srv's TLS listener, trusting the
// certificate srv presents, and closes it when the test ends.
func tlsClient(t *testing.T, srv *Server) *azservicebus.Client {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(srv.TLSCertificatePEM()))
	client, err := azservicebus.NewClientFromConnectionString(srv.TLSConnectionString(), &azservicebus.ClientOptions{
		RetryOptions: fastRetries,
		// The Go SDK would verify the certificate for "host:port" (it
		// hands the Endpoint's host and port to go-amqp as the server
		// name); name the host.
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close(testCtx(t, 10*time.Second)) })
	return client
}

// TestTLSListenerServesTheGoSDK: with Options.TLSAddr the emulator serves
// amqps next to plain AMQP; the Go SDK, given TLSConnectionString (no
// emulator mode, so TLS and amqps:// audiences) and the generated
// certificate, sends, receives, peeks and settles over it, and both
// listeners share one broker.
func TestTLSListenerServesTheGoSDK(t *testing.T) {
	t.Parallel()
	certOut := filepath.Join(t.TempDir(), "ca.pem")
	srv := hostileServer(t, &Options{TLSAddr: "127.0.0.1:0", TLSCertOut: certOut})
	require.NotEmpty(t, srv.TLSAddr())
	assert.NotEqual(t, srv.Addr(), srv.TLSAddr())
	written, err := os.ReadFile(certOut)
	require.NoError(t, err)
	assert.Equal(t, srv.TLSCertificatePEM(), written, "TLSCertOut holds the presented certificate")
	assert.Equal(t, "Endpoint=sb://"+srv.TLSAddr()+";SharedAccessKeyName="+DefaultKeyName+";SharedAccessKey="+DefaultKey,
		srv.TLSConnectionString())

	ctx := testCtx(t, 30*time.Second)
	tlsSide := tlsClient(t, srv)
	sender, err := tlsSide.NewSender(DefaultQueueName, nil)
	require.NoError(t, err)
	require.NoError(t, sender.SendMessage(ctx, body("over tls"), nil))
	receiver, err := tlsSide.NewReceiverForQueue(DefaultQueueName, nil)
	require.NoError(t, err)
	peeked, err := receiver.PeekMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, peeked, 1)
	m := receiveOne(t, receiver)
	assert.Equal(t, "over tls", string(m.Body))
	require.NoError(t, receiver.CompleteMessage(ctx, m, nil))

	// The plain listener still serves, on the same queues.
	plain := newTestClient(t, srv.ConnectionString())
	ps, err := plain.NewSender(DefaultQueueName, nil)
	require.NoError(t, err)
	require.NoError(t, ps.SendMessage(ctx, body("over plain"), nil))
	m = receiveOne(t, receiver)
	assert.Equal(t, "over plain", string(m.Body), "sent in plain AMQP, received over TLS")
	require.NoError(t, receiver.CompleteMessage(ctx, m, nil))
}

// TestTLSListenerWithCertificateFiles: TLSCertFile and TLSKeyFile are what
// the listener presents.
func TestTLSListenerWithCertificateFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, err := selfSignedCert("127.0.0.1:0", time.Now())
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))

	srv := hostileServer(t, &Options{TLSAddr: "127.0.0.1:0", TLSCertFile: certFile, TLSKeyFile: keyFile})
	assert.Equal(t, certPEM, srv.TLSCertificatePEM())

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.TLSAddr(),
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	require.NoError(t, err, "the listener presents the certificate from the files")
	defer nc.Close()
	assert.Equal(t, cert.Leaf.Raw, nc.ConnectionState().PeerCertificates[0].Raw)

	// And speaks AMQP inside TLS: the SASL header is answered.
	require.NoError(t, nc.SetDeadline(time.Now().Add(5*time.Second)))
	h := headerSASL.Bytes()
	_, err = nc.Write(h[:])
	require.NoError(t, err)
	got, err := amqp.ReadProtocolHeader(nc)
	require.NoError(t, err)
	assert.Equal(t, headerSASL, got)
}

// TestGeneratedCertificateNames: the generated certificate is its own CA
// (what uamqp's connection_verify needs) and is valid for localhost, the
// loopback addresses and the listening host.
func TestGeneratedCertificateNames(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for addr, name := range map[string]string{
		"127.0.0.1:0":         "127.0.0.1",
		"127.9.8.7:5671":      "127.9.8.7",
		"[::1]:5671":          "::1",
		"emulator.local:5671": "emulator.local",
		":5671":               "localhost",
	} {
		cert, err := selfSignedCert(addr, now)
		require.NoError(t, err, addr)
		leaf := cert.Leaf
		assert.True(t, leaf.IsCA, addr)
		require.NoError(t, leaf.CheckSignatureFrom(leaf), "%s: self-signed", addr)
		pool := x509.NewCertPool()
		pool.AddCert(leaf)
		for _, n := range []string{name, "localhost", "127.0.0.1"} {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: pool, CurrentTime: now,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			assert.NoError(t, err, "%s: valid for %s", addr, n)
		}
		assert.WithinDuration(t, now.Add(generatedCertLifetime), leaf.NotAfter, time.Second)
	}
}

// TestTLSListenerRefusesPlainAMQP: a client that speaks plain AMQP to the
// TLS port gets its connection closed, and the listener keeps serving.
func TestTLSListenerRefusesPlainAMQP(t *testing.T) {
	t.Parallel()
	srv := hostileServer(t, &Options{TLSAddr: "127.0.0.1:0"})
	nc, err := net.DialTimeout("tcp", srv.TLSAddr(), 5*time.Second)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(handshakeTimeout+5*time.Second)))
	h := headerSASL.Bytes()
	_, err = nc.Write(h[:])
	require.NoError(t, err)
	buf := make([]byte, 64)
	for {
		if _, err = nc.Read(buf); err != nil {
			break
		}
	}
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the emulator did not close the connection")

	ctx := testCtx(t, 20*time.Second)
	s, err := tlsClient(t, srv).NewSender(DefaultQueueName, nil)
	require.NoError(t, err)
	require.NoError(t, s.SendMessage(ctx, body("still serving"), nil))
}

func TestTLSOptionsValidated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	require.NoError(t, os.WriteFile(junk, []byte("not pem"), 0o600))
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{TLSCertFile: junk, TLSKeyFile: junk}, "need Options.TLSAddr"},
		{Options{TLSCertOut: junk}, "need Options.TLSAddr"},
		{Options{TLSAddr: "127.0.0.1:0", TLSCertFile: junk}, "give both or neither"},
		{Options{TLSAddr: "127.0.0.1:0", TLSKeyFile: junk}, "give both or neither"},
		{Options{TLSAddr: "127.0.0.1:0", TLSCertFile: junk, TLSKeyFile: junk, TLSCertOut: filepath.Join(dir, "o.pem")}, "TLSCertOut is for a generated certificate"},
		{Options{TLSAddr: "127.0.0.1:0", TLSCertFile: junk, TLSKeyFile: junk}, "Options.TLSCertFile/TLSKeyFile"},
		{Options{TLSAddr: "127.0.0.1:0", TLSCertOut: filepath.Join(dir, "missing", "o.pem")}, "Options.TLSCertOut"},
		{Options{TLSAddr: "not an address"}, "listen for TLS"},
	} {
		srv, err := NewServer(&tc.opts)
		if err == nil {
			_ = srv.Close()
		}
		require.Error(t, err, "%+v", tc.opts)
		assert.Contains(t, err.Error(), tc.want)
	}
}
