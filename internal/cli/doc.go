// Package cli implements the licensefix command line: one binary with the
// subcommands run, send, dlq, emulator, graphsim, dev and version. It takes
// its arguments, environment and streams as values so that every subcommand
// can be tested in-process; cmd/licensefix only wires it to the process.
//
// Exit codes: 0 success, 1 a runtime failure, 2 a usage error or a bad
// setting (named in the message).
package cli
