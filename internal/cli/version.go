package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

func init() {
	register(command{name: "version", summary: "print the version and commit", run: runVersion})
}

func runVersion(_ context.Context, e *Env, args []string) error {
	s := e.newSet("version")
	if err := s.Parse(args); err != nil {
		return err
	}
	commit := e.Commit
	if commit == "" {
		commit = buildRevision()
	}
	fmt.Fprintf(e.Stdout, "licensefix %s (commit %s, %s, %s/%s)\n", orDev(e.Version), orDev(commit), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// buildRevision is the VCS revision the go command stamped into the binary
// (go build in a git checkout), or "" when there is none (go run, tests).
func buildRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

func orDev(s string) string {
	if s == "" {
		return "dev"
	}
	return s
}
