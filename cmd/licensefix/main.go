// Command licensefix consumes "user license fixed" messages from Azure
// Service Bus and asks Microsoft Graph to reprocess each user's license
// assignments. It also carries the operator tools (send, dlq), a Service Bus
// emulator, a Graph simulator and a self-contained demo (dev).
//
// See README.md for the settings of each subcommand.
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
