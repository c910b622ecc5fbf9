package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/licensefix/licensefix/internal/cli"
)

// Stamped at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = ""
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.OSEnv(version, commit), os.Args[1:])
	stop()
	os.Exit(code)
}
