package dlq

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// descriptionWidth is how many characters of a description the table shows.
const descriptionWidth = 60

// WriteTable writes entries as an aligned table: sequence number, enqueued
// time, state, reason, user id, delivery count and a short description.
// Text from messages is cleaned of control characters so that it cannot
// disturb the terminal.
func WriteTable(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tENQUEUED\tSTATE\tREASON\tUSER\tDELIVERIES\tDESCRIPTION")
	for _, e := range entries {
		enq := "-"
		if !e.EnqueuedTime.IsZero() {
			enq = e.EnqueuedTime.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n",
			e.SequenceNumber, enq, e.State, orDash(clean(e.Reason, 40)), orDash(clean(e.UserID, 113)),
			e.DeliveryCount, orDash(clean(e.Description, descriptionWidth)))
	}
	return tw.Flush()
}

// WriteSummary writes s as an aligned table, with Graph error codes indented
// under their reason.
func WriteSummary(w io.Writer, s Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REASON\tCOUNT")
	for _, r := range s.Reasons {
		fmt.Fprintf(tw, "%s\t%d\n", orDash(clean(r.Reason, 40)), r.Count)
		for _, c := range r.GraphErrorCodes {
			code := clean(c.Code, 60)
			if code == "" {
				code = "(no code)"
			}
			fmt.Fprintf(tw, "  %s\t%d\n", code, c.Count)
		}
	}
	fmt.Fprintf(tw, "TOTAL\t%d\n", s.Total)
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clean replaces control and formatting characters (including tabs and
// newlines) with spaces, collapses runs of spaces and shortens s to at most
// max characters, marking a cut with "…".
func clean(s string, max int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
				n++
			}
			space = true
			continue
		}
		space = false
		if n >= max {
			return strings.TrimRight(b.String(), " ") + "…"
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimRight(b.String(), " ")
}

// formatSeqs renders sequence numbers for a log line, e.g. "3,7,9".
func formatSeqs(seqs []int64) string {
	parts := make([]string, len(seqs))
	for i, s := range seqs {
		parts[i] = strconv.FormatInt(s, 10)
	}
	return strings.Join(parts, ",")
}
