package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/licensefix/licensefix/internal/azcred"
	"github.com/licensefix/licensefix/internal/envflag"
	"github.com/licensefix/licensefix/internal/logging"
	"github.com/licensefix/licensefix/internal/sbconn"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	// ExitInterrupted is a command stopped by Ctrl-C (SIGINT) or SIGTERM
	// after a graceful stop, as shells report a process killed by SIGINT
	// (128+2).
	ExitInterrupted = 130
)

// Env is everything a subcommand may touch of the process.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Version and Commit are stamped into the binary at build time.
	Version, Commit string
	// Interactive reports whether a person can answer a question: stdin
	// and stderr are terminals. nil means no (tests, pipes, CI).
	Interactive func() bool
	// collect, when set, is told of every settings set a command declares
	// (shell completion reads the flag names from it).
	collect func(*envflag.Set)
}

// OSEnv returns an Env over the real process.
func OSEnv(version, commit string) *Env {
	return &Env{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Version: version, Commit: commit,
		Interactive: func() bool { return logging.IsTerminal(os.Stdin) && logging.IsTerminal(os.Stderr) }}
}

// interactive reports whether e.Interactive says a person is there.
func (e *Env) interactive() bool { return e.Interactive != nil && e.Interactive() }

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *Env, args []string) error
	// subcommands are the words run accepts as its first argument (dlq
	// list, ...), for usage hints and shell completion.
	subcommands []string
}

var commands = map[string]command{}

// register adds a subcommand; each subcommand's file calls it from init.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("cli: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// usageError is a misuse of the command line (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error.
func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// Main runs the subcommand named by args[0] and returns the exit code.
// "licensefix --version" is "licensefix version". A usage error prints the
// error and one line pointing at --help, never the whole usage.
func Main(ctx context.Context, e *Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.Stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.Stderr, "licensefix: unknown command %q\n%s\n", args[0], helpHint(""))
		return ExitUsage
	}
	err := c.run(ctx, e, args[1:])
	code := ExitCode(err)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.Stderr, "licensefix %s: %v\n", c.name, err)
		if code == ExitUsage {
			fmt.Fprintln(e.Stderr, helpHint(commandPath(c.name, args[1:])))
		}
	}
	return code
}

// commandPath is the command a usage error belongs to, with its
// subcommand when it has one ("dlq list").
func commandPath(name string, rest []string) string {
	if len(rest) > 0 && slices.Contains(commands[name].subcommands, rest[0]) {
		return name + " " + rest[0]
	}
	return name
}

// helpHint is the one line printed after a usage error.
func helpHint(path string) string {
	if path == "" {
		return "Run 'licensefix --help' for the list of commands."
	}
	return "Run 'licensefix " + path + " --help' for its settings."
}

// ExitCode maps an error from a subcommand to the process exit code.
func ExitCode(err error) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue), envflag.IsSettingError(err), sbconn.IsSettingError(err), azcred.IsConfigError(err):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// exitError carries an explicit exit code with a message (e.g. a replay
// that finished with failures).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: licensefix <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'licensefix <command> --help' for its settings. Every setting is a flag and a LICENSEFIX_* variable.\n"+
		"'licensefix --version' prints the version; 'licensefix completion bash|zsh|fish' prints a completion script.")
}

// logSettings are the logging settings every long-running command shares.
type logSettings struct {
	format, level string
}

func addLogSettings(s *envflag.Set) *logSettings {
	ls := &logSettings{}
	s.String(&ls.format, "log-format", "LICENSEFIX_LOG_FORMAT", logging.FormatAuto, "auto (tint on a terminal, JSON otherwise), json or text")
	s.String(&ls.level, "log-level", "LICENSEFIX_LOG_LEVEL", "info", "debug, info, warn or error")
	return ls
}

// logger validates the settings and builds the logger writing to w.
func (ls *logSettings) logger(s *envflag.Set, w io.Writer) (*slog.Logger, error) {
	format, err := logging.ParseFormat(ls.format)
	if err != nil {
		return nil, s.Invalid("LICENSEFIX_LOG_FORMAT", "%v", err)
	}
	level, err := logging.ParseLevel(ls.level)
	if err != nil {
		return nil, s.Invalid("LICENSEFIX_LOG_LEVEL", "%v", err)
	}
	return logging.New(w, format, level), nil
}

// serviceBusSettings are how run, send and dlq reach their entity.
type serviceBusSettings struct {
	connectionString, namespace string
	queue, topic, subscription  string
	role                        entityRole
	// entity is set by options once the settings are valid.
	entity entity
}

// addServiceBusSettings binds the connection settings and the entity
// settings of a command that receives (role roleReceive) or sends.
func addServiceBusSettings(s *envflag.Set, role entityRole) *serviceBusSettings {
	sb := &serviceBusSettings{}
	s.Secret(&sb.connectionString, "servicebus-connection-string", sbconn.EnvConnectionString, "Service Bus (or emulator) connection string; exclusive with the namespace")
	s.String(&sb.namespace, "servicebus-namespace", sbconn.EnvNamespace, "", "fully qualified namespace (contoso.servicebus.windows.net), authenticated with azidentity")
	sb.addEntitySettings(s, role)
	return sb
}

// options validates the settings, sets sb.entity and returns sbconn
// options.
func (sb *serviceBusSettings) options(s *envflag.Set) (sbconn.Options, error) {
	o := sbconn.Options{ConnectionString: sb.connectionString, Namespace: sb.namespace, Getenv: s.Getenv}
	if err := o.Validate(); err != nil {
		var se *sbconn.Error
		if errors.As(err, &se) {
			return o, s.Invalid(se.Setting, "%s", strings.TrimPrefix(se.Problem, se.Setting+": "))
		}
		return o, err
	}
	en, err := sb.resolveEntity(s)
	if err != nil {
		return o, err
	}
	sb.entity = en
	return o, nil
}
