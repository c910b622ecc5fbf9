package retry

import (
	"net/http"
	"strings"
	"time"
)

// MaxRetryAfter caps what [ParseRetryAfter] returns. A larger value (a
// number of seconds or a date far in the future) is almost certainly a bug
// or a hostile server, and honouring it would park a message for longer than
// any lock or retry budget; it is reported as MaxRetryAfter instead.
const MaxRetryAfter = time.Hour

// ParseRetryAfter parses a Retry-After header value: integer or fractional
// seconds, or an HTTP date relative to now. ok is false for an empty or
// malformed value; negative results clamp to zero.
//
// Accepted forms, after trimming surrounding blanks:
//   - delay seconds: "120", "0", "-3" (clamps to 0);
//   - fractional seconds: "2.128" is 2.128s (not truncated), precise to the
//     nanosecond; digits beyond the ninth decimal are ignored;
//   - an HTTP date in any form [http.ParseTime] accepts (RFC 1123 with
//     "GMT", RFC 850, ANSI C asctime), plus RFC 1123 with a numeric zone;
//     the result is the date minus now, and a date in the past gives 0.
//
// Results above [MaxRetryAfter] are capped to MaxRetryAfter (ok stays true).
// Exponents, hexadecimal, "Inf", "NaN", signs other than a leading "-", and
// any other text give ok=false.
func ParseRetryAfter(value string, now time.Time) (d time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if d, ok := parseSeconds(value); ok {
		return d, true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		t, err = time.Parse(time.RFC1123Z, value)
		if err != nil {
			return 0, false
		}
	}
	return clampRetryAfter(t.Sub(now)), true
}

// parseSeconds parses -?digits(.digits)? without going through floating
// point, capping at MaxRetryAfter.
func parseSeconds(s string) (time.Duration, bool) {
	negative := false
	if s[0] == '-' {
		negative = true
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, false
	}
	if hasDot && frac == "" || whole == "" && !hasDot {
		// "5." and "." are not numbers we accept; ".5" is.
		return 0, false
	}
	if !allDigits(whole) || !allDigits(frac) {
		return 0, false
	}
	if negative {
		return 0, true
	}
	const maxSeconds = int64(MaxRetryAfter / time.Second)
	var secs int64
	for i := 0; i < len(whole); i++ {
		secs = secs*10 + int64(whole[i]-'0')
		if secs > maxSeconds {
			return MaxRetryAfter, true
		}
	}
	var nanos int64
	scale := int64(time.Second)
	for i := 0; i < len(frac) && i < 9; i++ {
		scale /= 10
		nanos += int64(frac[i]-'0') * scale
	}
	return clampRetryAfter(time.Duration(secs)*time.Second + time.Duration(nanos)), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func clampRetryAfter(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	default:
		return d
	}
}
