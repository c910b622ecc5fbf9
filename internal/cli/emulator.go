package cli

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/licensefix/licensefix/internal/envflag"
	"github.com/licensefix/licensefix/sbemu"
)

func init() {
	register(command{name: "emulator", summary: "run the Service Bus emulator (AMQP 1.0) standalone", run: runEmulator})
}

func runEmulator(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("emulator")
	var listen, tlsListen, tlsCert, tlsKey, tlsCertOut, configPath, keyName, key string
	var trustJWT bool
	s.String(&listen, "listen", "LICENSEFIX_EMULATOR_LISTEN", "127.0.0.1:5672", "TCP address to listen on (plain AMQP, no TLS)")
	s.String(&tlsListen, "tls-listen", "LICENSEFIX_EMULATOR_TLS_LISTEN", "", "also serve AMQP over TLS here (e.g. 127.0.0.1:5671) for SDKs without an emulator mode; empty = no TLS")
	s.String(&tlsCert, "tls-cert", "LICENSEFIX_EMULATOR_TLS_CERT", "", "PEM certificate (chain) of the TLS listener; empty = generate a self-signed one")
	s.String(&tlsKey, "tls-key", "LICENSEFIX_EMULATOR_TLS_KEY", "", "PEM private key of --tls-cert")
	s.String(&tlsCertOut, "tls-cert-out", "LICENSEFIX_EMULATOR_TLS_CERT_OUT", "", "file to write the generated self-signed certificate to, for clients to trust (required when generating)")
	s.String(&configPath, "config", "LICENSEFIX_EMULATOR_CONFIG", "", "Config.json in Microsoft's emulator format (queues; topics with subscriptions and rules); empty = one queue license-fixed")
	s.String(&keyName, "key-name", "LICENSEFIX_EMULATOR_KEY_NAME", sbemu.DefaultKeyName, "shared access key name accepted in SAS tokens")
	s.Secret(&key, "key", "LICENSEFIX_EMULATOR_KEY", "shared access key (default SAS_KEY_VALUE, as Microsoft's emulator)")
	s.Bool(&trustJWT, "trust-jwt", "LICENSEFIX_EMULATOR_TRUST_JWT", false, "accept Entra ID (jwt) CBS tokens without checking them")
	ls := addLogSettings(s)
	if err := s.Parse(args); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usagef("unexpected arguments: %v", s.Args())
	}
	log, err := ls.logger(s, e.Stderr)
	if err != nil {
		return err
	}
	if err := checkTLSSettings(s, tlsListen, tlsCert, tlsKey, tlsCertOut); err != nil {
		return err
	}
	opts := &sbemu.Options{Addr: listen, KeyName: keyName, Key: key, TrustJWT: trustJWT, Logger: log,
		TLSAddr: tlsListen, TLSCertFile: tlsCert, TLSKeyFile: tlsKey, TLSCertOut: tlsCertOut}
	if configPath != "" {
		cfg, err := sbemu.LoadConfig(configPath)
		if err != nil {
			return s.Invalid("LICENSEFIX_EMULATOR_CONFIG", "%v", err)
		}
		opts.Config = cfg
	}
	srv, err := sbemu.NewServer(opts)
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	defer srv.Close()
	// The connection string carries the key: it goes to stdout for the
	// operator to copy, never into the log.
	// With a TLS listener its connection string is the second line; both
	// go out in one write, so a reader that has the first has both.
	out := srv.ConnectionString() + "\n"
	if cs := srv.TLSConnectionString(); cs != "" {
		out += cs + "\n"
	}
	fmt.Fprint(e.Stdout, out)
	log.Info("emulator_listening", "addr", srv.Addr())
	<-ctx.Done()
	log.Info("emulator_stopping")
	return nil
}

// checkTLSSettings names the setting at fault before the emulator starts:
// a certificate without its key (or the reverse), TLS files without a TLS
// listener, a generated certificate with nowhere to write it, or files that
// do not hold a usable pair.
func checkTLSSettings(s *envflag.Set, listen, cert, key, certOut string) error {
	switch {
	case listen == "" && cert != "":
		return s.Invalid("LICENSEFIX_EMULATOR_TLS_CERT", "needs LICENSEFIX_EMULATOR_TLS_LISTEN")
	case listen == "" && key != "":
		return s.Invalid("LICENSEFIX_EMULATOR_TLS_KEY", "needs LICENSEFIX_EMULATOR_TLS_LISTEN")
	case listen == "" && certOut != "":
		return s.Invalid("LICENSEFIX_EMULATOR_TLS_CERT_OUT", "needs LICENSEFIX_EMULATOR_TLS_LISTEN")
	case listen == "":
		return nil
	case cert != "" && key == "":
		return s.Invalid("LICENSEFIX_EMULATOR_TLS_KEY", "required with LICENSEFIX_EMULATOR_TLS_CERT")
	case cert == "" && key != "":
		return s.Invalid("LICENSEFIX_EMULATOR_TLS_CERT", "required with LICENSEFIX_EMULATOR_TLS_KEY")
	case cert != "" && certOut != "":
		return s.Invalid("LICENSEFIX_EMULATOR_TLS_CERT_OUT", "only for a generated certificate; clients trust the issuer of LICENSEFIX_EMULATOR_TLS_CERT")
	case cert == "" && certOut == "":
		return s.Invalid("LICENSEFIX_EMULATOR_TLS_CERT_OUT", "required when the certificate is generated (no LICENSEFIX_EMULATOR_TLS_CERT): clients must be given it to trust")
	case cert != "":
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			return s.Invalid("LICENSEFIX_EMULATOR_TLS_CERT", "with LICENSEFIX_EMULATOR_TLS_KEY: %v", err)
		}
	}
	return nil
}
