package sbemu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// Service Bus requires TLS: it serves AMQP on port 5671 with "the TCP
// connection first overlaid with TLS before entering the AMQP protocol
// handshake" (AMQP 1.0 in Service Bus and Event Hubs protocol guide,
// "Connections and sessions"). SDKs without an emulator mode (Microsoft's
// Python SDK on uamqp) always connect that way, so the emulator can listen
// for TLS too, with a certificate from files or a self-signed one made at
// start.

// generatedCertLifetime is how long a generated certificate is valid.
const generatedCertLifetime = 365 * 24 * time.Hour

// tlsSetup is what NewServer needs to serve TLS: the server configuration
// and the PEM of the presented certificate chain.
type tlsSetup struct {
	config  *tls.Config
	certPEM []byte
}

// newTLSSetup loads o's certificate and key, or generates a self-signed
// pair for the names a local client may use to reach o.TLSAddr, and writes
// the generated certificate to o.TLSCertOut when set.
func newTLSSetup(o *Options) (*tlsSetup, error) {
	var cert tls.Certificate
	if o.TLSCertFile != "" {
		var err error
		cert, err = tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("sbemu: Options.TLSCertFile/TLSKeyFile: %w", err)
		}
	} else {
		var err error
		cert, err = selfSignedCert(o.TLSAddr, time.Now()) // clients check validity against the wall clock, not Options.Clock
		if err != nil {
			return nil, fmt.Errorf("sbemu: generate the TLS certificate: %w", err)
		}
	}
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if o.TLSCertFile == "" && o.TLSCertOut != "" {
		if err := os.WriteFile(o.TLSCertOut, chain, 0o644); err != nil {
			return nil, fmt.Errorf("sbemu: Options.TLSCertOut: %w", err)
		}
	}
	return &tlsSetup{
		config:  &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		certPEM: chain,
	}, nil
}

// selfSignedCert makes an ECDSA P-256 certificate that is its own CA
// (uamqp's OpenSSL accepts it as the trust anchor given in
// connection_verify), valid for localhost, the loopback addresses and the
// host of addr.
func selfSignedCert(addr string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "licensefix sbemu (self-signed)", Organization: []string{"licensefix"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(generatedCertLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsUnspecified() && !ip.Equal(net.IPv4(127, 0, 0, 1)) && !ip.Equal(net.IPv6loopback) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if host != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// validateTLS checks the TLS fields of o.
func (o *Options) validateTLS() error {
	switch {
	case o.TLSAddr == "" && (o.TLSCertFile != "" || o.TLSKeyFile != "" || o.TLSCertOut != ""):
		return errors.New("sbemu: Options.TLSCertFile, TLSKeyFile and TLSCertOut need Options.TLSAddr")
	case (o.TLSCertFile == "") != (o.TLSKeyFile == ""):
		return errors.New("sbemu: Options.TLSCertFile and Options.TLSKeyFile go together: give both or neither")
	case o.TLSCertFile != "" && o.TLSCertOut != "":
		return errors.New("sbemu: Options.TLSCertOut is for a generated certificate; with Options.TLSCertFile, trust that file's issuer")
	}
	return nil
}
