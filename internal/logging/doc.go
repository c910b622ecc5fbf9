// Package logging builds the process's *slog.Logger from LICENSEFIX_LOG_FORMAT
// and LICENSEFIX_LOG_LEVEL: tint's coloured text on a terminal, JSON
// otherwise. JSON lines write durations as Go duration strings ("1.5s"),
// the same syntax as duration settings, instead of integer nanoseconds.
package logging
