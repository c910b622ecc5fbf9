package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"github.com/mattn/go-isatty"
)

// Formats accepted by New.
const (
	FormatAuto = "auto" // tint on a terminal, JSON otherwise
	FormatJSON = "json"
	FormatText = "text" // tint (without colour when not a terminal)
)

// ParseLevel parses debug, info, warn or error (case-insensitive).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("%q is not a log level (debug, info, warn, error)", s)
	}
	return l, nil
}

// ParseFormat checks a format name.
func ParseFormat(s string) (string, error) {
	switch f := strings.ToLower(strings.TrimSpace(s)); f {
	case FormatAuto, FormatJSON, FormatText:
		return f, nil
	default:
		return "", fmt.Errorf("%q is not a log format (auto, json, text)", s)
	}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// New returns a logger writing to w in the given format at the given level.
// In JSON, durations are Go duration strings ("1.5s", "250ms"), not
// slog's default integer nanoseconds; see HumanDurations.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	tty := IsTerminal(w)
	if format == FormatJSON || (format == FormatAuto && !tty) {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: HumanDurations}))
	}
	return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: !tty}))
}

// Discard is a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// HumanDurations is a slog ReplaceAttr function that writes a
// time.Duration value as its String form ("1m30s", "250ms"), which a person
// reads at a glance and time.ParseDuration reads back. Attributes inside
// groups are converted too.
func HumanDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
