package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/licensefix/licensefix/internal/envflag"
)

func init() {
	register(command{name: "version", summary: "print the version and commit", run: runVersion})
}

func runVersion(_ context.Context, e *Env, args []string) error {
	s := envflag.New("version", e.Getenv, e.Stderr)
	if err := s.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "licensefix %s (commit %s, %s, %s/%s)\n", orDev(e.Version), orDev(e.Commit), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func orDev(s string) string {
	if s == "" {
		return "dev"
	}
	return s
}
