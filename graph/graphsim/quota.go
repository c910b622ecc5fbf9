package graphsim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// QuotaDebtBursts bounds the debt of a quota: throttled calls are charged
// too, so the balance goes negative, but never below -QuotaDebtBursts ×
// Burst tokens. With the default Burst (one second's worth), hammering a
// throttled quota can push Retry-After up to about QuotaDebtBursts seconds
// (longer if a step lowers the rate meanwhile).
const QuotaDebtBursts = 10

// maxQuotaWait caps a quota's Retry-After, whatever the rates.
const maxQuotaWait = 24 * time.Hour

// tokenSlack absorbs floating-point error: a balance within a millionth of
// a token of 1 counts as a whole token, so a client that waits exactly the
// Retry-After it was given is accepted.
const tokenSlack = 1e-6

// Quota is a tenant-wide write quota modelled on Graph's: a token bucket
// that refills Rate tokens per second up to Burst. Every call to a
// reprocess action that passes the outage and token checks is charged one
// token, throttled calls included, so calls made while throttled lengthen
// the throttle. A call is accepted when a whole token is available before
// it is charged; otherwise it gets 429 with a fractional Retry-After: the
// time until the balance is back at one token.
type Quota struct {
	// Rate is the refill rate in tokens (calls) per second from the moment
	// the quota is set; 0 means no quota.
	Rate float64
	// Burst is the bucket's capacity in tokens, at least 1. 0 means one
	// second's worth of the initial Rate, but at least 1. The bucket
	// starts full. Steps do not change it.
	Burst float64
	// Steps change the rate at given offsets from when the quota was set,
	// in increasing order of At.
	Steps []QuotaStep
}

// QuotaStep is a change of a Quota's rate: from At after the quota was
// set, the bucket refills Rate tokens per second (until the next step).
type QuotaStep struct {
	At   time.Duration // offset from when the quota was set; positive
	Rate float64       // tokens per second; positive
}

// Validate reports the first problem that makes q unusable, naming the
// field (rate, burst, steps[i].at, steps[i].rate).
func (q Quota) Validate() error { return q.validate("graphsim: quota: ") }

func (q Quota) validate(prefix string) error {
	bad := func(format string, args ...any) error { return fmt.Errorf(prefix+format, args...) }
	if !finite(q.Rate) || q.Rate < 0 {
		return bad("rate %v must be a number >= 0", q.Rate)
	}
	if q.Rate == 0 {
		if q.Burst != 0 || len(q.Steps) > 0 {
			return bad("rate must be positive when burst or steps are set")
		}
		return nil
	}
	if !finite(q.Burst) || q.Burst < 0 || q.Burst > 0 && q.Burst < 1 {
		return bad("burst %v must be 0 (one second's worth) or at least 1", q.Burst)
	}
	for i, st := range q.Steps {
		if st.At <= 0 {
			return bad("steps[%d].at %v must be positive", i, st.At)
		}
		if i > 0 && st.At <= q.Steps[i-1].At {
			return bad("steps[%d].at %v must be after steps[%d].at %v", i, st.At, i-1, q.Steps[i-1].At)
		}
		if !finite(st.Rate) || st.Rate <= 0 {
			return bad("steps[%d].rate %v must be positive", i, st.Rate)
		}
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// withDefaults returns q with Burst filled in and Steps copied.
func (q Quota) withDefaults() Quota {
	if q.Burst == 0 {
		q.Burst = max(1, q.Rate)
	}
	q.Steps = append([]QuotaStep(nil), q.Steps...)
	return q
}

// ParseQuotaSteps reads steps written as comma-separated AT=RATE pairs,
// e.g. "30s=20,60s=40": AT is a Go duration, RATE tokens per second. Blank
// items are skipped; "" gives no steps. It does not check the order (see
// Quota.Validate).
func ParseQuotaSteps(s string) ([]QuotaStep, error) {
	var out []QuotaStep
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		at, rate, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("step %q is not AT=RATE (e.g. 30s=20)", item)
		}
		d, err := time.ParseDuration(strings.TrimSpace(at))
		if err != nil {
			return nil, fmt.Errorf("step %q: %q is not a duration (e.g. 30s)", item, at)
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(rate), 64)
		if err != nil {
			return nil, fmt.Errorf("step %q: %q is not a number", item, rate)
		}
		out = append(out, QuotaStep{At: d, Rate: r})
	}
	return out, nil
}

// QuotaStats is a snapshot of the quota and of what the server answered
// since the quota was last set (SetQuota, LoadScenario or Reset, which
// zero the counters).
type QuotaStats struct {
	// Enabled is false when no quota is set; the counters below still
	// count then (Calls, Accepted and Throttled stay 0).
	Enabled bool
	// Rate is the rate in effect now (after any steps), Burst the bucket's
	// capacity, Balance the tokens now (negative: debt), all 0 when not
	// Enabled.
	Rate, Burst, Balance float64
	// Elapsed is the time since the quota was set.
	Elapsed time.Duration
	// Calls is how many calls the quota charged; Accepted of them went on
	// to their scripted answer and Throttled got the quota's 429.
	Calls, Accepted, Throttled int64
	// Succeeded counts 2xx answers to reprocess calls (whatever the quota)
	// and UsersSucceeded the distinct users (matched case-insensitively)
	// who got at least one.
	Succeeded, UsersSucceeded int64
}

// quotaBucket is a Quota in use. It is pure arithmetic on the times it is
// given; the Server calls it with s.mu held.
type quotaBucket struct {
	q       Quota     // with defaults
	start   time.Time // when the quota was set; Steps are offsets from it
	last    time.Time // time of the last refill
	balance float64   // tokens; negative is debt, never below floor()

	calls, accepted, throttled int64
}

func newQuotaBucket(q Quota, now time.Time) *quotaBucket {
	q = q.withDefaults()
	return &quotaBucket{q: q, start: now, last: now, balance: q.Burst}
}

func (b *quotaBucket) floor() float64 { return -QuotaDebtBursts * b.q.Burst }

// charge takes one token for a call at now. ok reports whether a whole
// token was there before the charge; usage is (Burst - balance after the
// charge) / Burst clamped to [0, 1.8]; wait, for a throttled call, is how
// long until the balance is back at one token.
func (b *quotaBucket) charge(now time.Time) (ok bool, usage float64, wait time.Duration) {
	b.refill(now)
	b.calls++
	ok = b.balance >= 1-tokenSlack
	b.balance = max(b.balance-1, b.floor())
	usage = min(max((b.q.Burst-b.balance)/b.q.Burst, 0), 1.8)
	if ok {
		b.accepted++
		return true, usage, 0
	}
	b.throttled++
	return false, usage, b.timeToToken()
}

// refill adds the tokens earned between the last refill and now, up to
// Burst. A clock that goes back earns nothing.
func (b *quotaBucket) refill(now time.Time) {
	if !now.After(b.last) {
		return
	}
	earned := b.tokensBetween(b.last.Sub(b.start), now.Sub(b.start))
	b.balance = min(b.balance+earned, b.q.Burst)
	b.last = now
}

// rateAt returns the rate in effect at offset d and, when a step follows,
// the offset of the next change.
func (b *quotaBucket) rateAt(d time.Duration) (rate float64, next time.Duration, hasNext bool) {
	rate = b.q.Rate
	for _, st := range b.q.Steps {
		if st.At > d {
			return rate, st.At, true
		}
		rate = st.Rate
	}
	return rate, 0, false
}

// tokensBetween integrates the rate over the offsets [from, to).
func (b *quotaBucket) tokensBetween(from, to time.Duration) float64 {
	total := 0.0
	for cur := from; cur < to; {
		rate, next, hasNext := b.rateAt(cur)
		end := to
		if hasNext && next < to {
			end = next
		}
		total += rate * (end - cur).Seconds()
		cur = end
	}
	return total
}

// timeToToken returns how long from the last refill until the balance
// reaches one token, following the rate steps, capped at maxQuotaWait.
func (b *quotaBucket) timeToToken() time.Duration {
	need := 1 - b.balance
	if need <= 0 {
		return 0
	}
	wait := 0.0 // seconds
	cur := b.last.Sub(b.start)
	for {
		rate, next, hasNext := b.rateAt(cur)
		seg := (next - cur).Seconds()
		if !hasNext || rate*seg >= need {
			wait += need / rate
			break
		}
		need -= rate * seg
		wait += seg
		cur = next
	}
	if wait >= maxQuotaWait.Seconds() {
		return maxQuotaWait
	}
	// Rounded to the nanosecond: formatRetryAfter rounds up to the
	// millisecond, and ceiling here would turn float noise (0.35 s being
	// 350000000.00000006 ns) into an extra millisecond.
	return time.Duration(math.Round(wait * float64(time.Second)))
}

// stats fills the quota's part of a snapshot at now, after refilling.
func (b *quotaBucket) stats(now time.Time) QuotaStats {
	b.refill(now)
	rate, _, _ := b.rateAt(b.last.Sub(b.start))
	return QuotaStats{
		Enabled: true, Rate: rate, Burst: b.q.Burst, Balance: b.balance,
		Elapsed: b.last.Sub(b.start),
		Calls:   b.calls, Accepted: b.accepted, Throttled: b.throttled,
	}
}

// formatRetryAfter writes a wait as Graph's fractional Retry-After:
// seconds with at most three decimals, rounded up to the millisecond and
// at least 0.001 ("0.35", "2", never "0").
func formatRetryAfter(wait time.Duration) string {
	ms := max((wait+time.Millisecond-1)/time.Millisecond, 1)
	s := strconv.FormatInt(int64(ms/1000), 10)
	if frac := ms % 1000; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", frac), "0")
	}
	return s
}
