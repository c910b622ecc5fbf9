package sbemu

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/stretchr/testify/require"
)

// FuzzVerifySAS feeds arbitrary tokens and audiences to the SAS check: it
// must never panic, and must never accept a token it did not sign.
func FuzzVerifySAS(f *testing.F) {
	later := time.Now().Add(time.Hour)
	f.Add(signSAS("amqp://h/q1", testKeyName, testKey, later), "amqp://h/q1")
	f.Add(signNodeSAS("sb://h/Q1", testKeyName, testKey, later), "sb://h/q1/$management")
	f.Add("SharedAccessSignature sr=&sig=&se=&skn=", "")
	f.Add("SharedAccessSignature sr=a%zz&sig=%%&se=1e99&skn=%", "sb://")
	a := &authenticator{keyName: testKeyName, key: []byte(testKey)}
	f.Fuzz(func(t *testing.T, token, audience string) {
		path, exp, err := a.verify(tokenTypeSAS, token, audience, "0", time.Now())
		if err != nil {
			require.NotContains(t, err.Error(), testKey)
			return
		}
		// Accepted: the token must carry a valid signature for this key.
		sas, perr := parseSAS(token)
		require.NoError(t, perr)
		require.True(t, exp.After(time.Now()))
		require.Equal(t, strings.ToLower(nodePath(audience)), path)
		require.NotEmpty(t, sas.sig)
	})
}

// FuzzNodePath feeds arbitrary link addresses and audiences to the
// address parser: it never panics, never returns a path with a leading or
// trailing slash, leaves a string without a URI scheme as its trimmed self,
// and reads a path the same bare or behind any scheme and host.
func FuzzNodePath(f *testing.F) {
	for _, s := range []string{"license-fixed", "/q1/", "amqps://127.0.0.1/q1/$management", "sb://h:5671",
		"t1/Subscriptions/s1/$DeadLetterQueue", "q1/x://y", "://", " sb:// / ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		p := nodePath(addr)
		require.False(t, strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/"), "nodePath(%q) = %q", addr, p)
		_ = resourcePath(addr)
		if !strings.Contains(addr, "://") {
			require.Equal(t, strings.Trim(strings.TrimSpace(addr), "/"), p)
			require.Equal(t, p, nodePath("amqps://any.host:5671/"+strings.TrimSpace(addr)), "behind a scheme and host")
		}
	})
}

// fuzzPreamble is a complete client handshake: SASL ANONYMOUS, the AMQP
// header and an open.
func fuzzPreamble(t testing.TB) []byte {
	var b []byte
	h := headerSASL.Bytes()
	b = append(b, h[:]...)
	b, err := amqp.AppendFrame(b, amqp.Frame{Type: amqp.FrameTypeSASL, Body: &amqp.SASLInit{Mechanism: "ANONYMOUS"}})
	require.NoError(t, err)
	h = headerAMQP.Bytes()
	b = append(b, h[:]...)
	b, err = amqp.AppendFrame(b, amqp.Frame{Type: amqp.FrameTypeAMQP, Body: &amqp.Open{ContainerID: "fuzz", MaxFrameSize: 65536}})
	require.NoError(t, err)
	return b
}

func fuzzFrames(t testing.TB, bodies ...amqp.Body) []byte {
	var b []byte
	for _, body := range bodies {
		var err error
		b, err = amqp.AppendFrame(b, amqp.Frame{Type: amqp.FrameTypeAMQP, Body: body})
		require.NoError(t, err)
	}
	return b
}

// FuzzConnectionInput sends arbitrary bytes after a valid handshake. The
// server must not panic or hang, and must keep serving new connections.
func FuzzConnectionInput(f *testing.F) {
	zero := uint32(0)
	h := uint32(0)
	f.Add([]byte{})
	f.Add(fuzzFrames(f, &amqp.Begin{IncomingWindow: 10, OutgoingWindow: 10}))
	f.Add(fuzzFrames(f,
		&amqp.Begin{IncomingWindow: 10, OutgoingWindow: 10},
		&amqp.Attach{Name: "c", Handle: 0, Role: amqp.RoleSender, Target: &amqp.Target{Address: "$cbs"}},
		&amqp.Flow{IncomingWindow: 10, Handle: &h, DeliveryCount: &zero, LinkCredit: &zero, Drain: true, Echo: true},
		&amqp.Detach{Handle: 0, Closed: true},
		&amqp.End{}))
	f.Add(fuzzFrames(f,
		&amqp.Begin{IncomingWindow: 10, OutgoingWindow: 10},
		&amqp.Attach{Name: "r", Handle: 3, Role: amqp.RoleReceiver, Source: &amqp.Source{Address: DefaultQueueName}},
		&amqp.Disposition{Role: amqp.RoleReceiver, First: 0, State: &amqp.Accepted{}}))
	f.Add([]byte("\x00\x00\x00\x08\x02\x00\x00\x00garbage"))

	srv, err := NewServer(&Options{IdleTimeout: time.Second})
	require.NoError(f, err)
	f.Cleanup(func() { _ = srv.Close() })
	pre := fuzzPreamble(f)

	f.Fuzz(func(t *testing.T, input []byte) {
		nc, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
		require.NoError(t, err)
		defer nc.Close()
		require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
		go func() {
			_, _ = nc.Write(append(append([]byte{}, pre...), input...))
			_ = nc.(*net.TCPConn).CloseWrite()
		}()
		_, err = io.Copy(io.Discard, nc)
		if err != nil && strings.Contains(err.Error(), "timeout") {
			t.Fatal("server did not end the connection after the client's EOF")
		}
		// Still serving.
		c2, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
		require.NoError(t, err)
		defer c2.Close()
		require.NoError(t, c2.SetDeadline(time.Now().Add(5*time.Second)))
		hb := headerAMQP.Bytes()
		_, err = c2.Write(hb[:])
		require.NoError(t, err)
		got, err := amqp.ReadProtocolHeader(c2)
		require.NoError(t, err)
		require.Equal(t, headerAMQP, got)
	})
}
