package dlq

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Filter selects dead-lettered messages. The zero Filter matches everything.
// Within one field the values are alternatives; the fields combine with AND.
type Filter struct {
	// Reasons are dead-letter reasons (e.g. GraphRejected), compared without
	// regard to letter case.
	Reasons []string
	// UserIDs are user ids, compared without regard to letter case (as Entra
	// compares userPrincipalNames and GUIDs).
	UserIDs []string
	// Since and Until bound the enqueued time, both inclusive; zero means
	// unbounded.
	Since, Until time.Time
}

// Match reports whether e passes the filter.
func (f Filter) Match(e Entry) bool {
	if len(f.Reasons) > 0 && !containsFold(f.Reasons, e.Reason) {
		return false
	}
	if len(f.UserIDs) > 0 && (e.UserID == "" || !containsFold(f.UserIDs, e.UserID)) {
		return false
	}
	if !f.Since.IsZero() && e.EnqueuedTime.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && e.EnqueuedTime.After(f.Until) {
		return false
	}
	return true
}

// Validate checks that the time window is not empty.
func (f Filter) Validate() error {
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return errors.New("until is before since")
	}
	return nil
}

// String describes the filter for logs and reports, e.g.
// "reason=GraphRejected user_id=any since=2026-11-27T17:00:00Z until=any".
func (f Filter) String() string {
	list := func(v []string) string {
		if len(v) == 0 {
			return "any"
		}
		return strings.Join(v, ",")
	}
	tm := func(t time.Time) string {
		if t.IsZero() {
			return "any"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("reason=%s user_id=%s since=%s until=%s", list(f.Reasons), list(f.UserIDs), tm(f.Since), tm(f.Until))
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// ParseTime parses a --since/--until value: an RFC 3339 time, or a
// non-negative duration meaning "that long before now". Durations use Go's
// syntax ("90m", "24h", "1h30m") plus a whole number of days ("7d").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-28T17:00:00Z) nor a duration (24h, 7d)", s)
	}
	return now.Add(-d), nil
}

func parseAgo(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return 0, errors.New("bad day count")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("negative duration")
	}
	return d, nil
}
