package sbconn

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"strings"
)

// Ports Service Bus and its emulator listen on for AMQP.
const (
	amqpsPort    = "5671"
	emulatorPort = "5672"
)

// Diagnose checks the network path to the Service Bus endpoint o names:
// the host resolves, a TCP connection opens and, except for an emulator
// (UseDevelopmentEmulator=true, plain AMQP), a TLS handshake completes. It
// returns the first failure (a *net.DNSError, a refused dial, an x509 or
// tls error, a timeout) or nil; it never sends credentials. The worker
// calls it to name the cause when Service Bus stops answering, because
// azservicebus retries inside each call and returns only the caller's
// deadline.
func (o Options) Diagnose(ctx context.Context) error {
	host, port, useTLS, err := o.endpoint()
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if !useTLS {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.ClientOptions != nil && o.ClientOptions.TLSConfig != nil {
		cfg = o.ClientOptions.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	return tc.HandshakeContext(ctx)
}

// endpoint is the host and port the SDK dials, and whether over TLS.
func (o Options) endpoint() (host, port string, useTLS bool, err error) {
	if o.Namespace != "" {
		host, port = o.Namespace, amqpsPort
		if h, p, err := net.SplitHostPort(o.Namespace); err == nil {
			host, port = h, p
		}
		return host, port, true, nil
	}
	var endpoint string
	emulator := false
	for _, part := range strings.Split(o.ConnectionString, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "endpoint":
			endpoint = strings.TrimSpace(v)
		case "usedevelopmentemulator":
			emulator = strings.EqualFold(strings.TrimSpace(v), "true")
		}
	}
	u, perr := url.Parse(endpoint)
	if perr != nil || u.Hostname() == "" {
		return "", "", false, &Error{Setting: EnvConnectionString, Problem: "malformed: Endpoint has no host"}
	}
	host, port = u.Hostname(), u.Port()
	if port == "" {
		port = amqpsPort
		if emulator {
			port = emulatorPort
		}
	}
	return host, port, !emulator, nil
}
