// Package logging builds the process's *slog.Logger from LICENSEFIX_LOG_FORMAT
// and LICENSEFIX_LOG_LEVEL: tint's coloured text on a terminal, JSON
// otherwise.
package logging
