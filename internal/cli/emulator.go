package cli

import (
	"context"
	"fmt"

	"github.com/licensefix/licensefix/sbemu"
)

func init() {
	register(command{name: "emulator", summary: "run the Service Bus emulator (AMQP 1.0) standalone", run: runEmulator})
}

func runEmulator(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("emulator")
	var listen, configPath, keyName, key string
	var trustJWT bool
	s.String(&listen, "listen", "LICENSEFIX_EMULATOR_LISTEN", "127.0.0.1:5672", "TCP address to listen on (plain AMQP, no TLS)")
	s.String(&configPath, "config", "LICENSEFIX_EMULATOR_CONFIG", "", "Config.json in Microsoft's emulator format; empty = one queue license-fixed")
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
	opts := &sbemu.Options{Addr: listen, KeyName: keyName, Key: key, TrustJWT: trustJWT, Logger: log}
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
	fmt.Fprintln(e.Stdout, srv.ConnectionString())
	log.Info("emulator_listening", "addr", srv.Addr())
	<-ctx.Done()
	log.Info("emulator_stopping")
	return nil
}
