package graphsim

import (
	"maps"
	"slices"
	"time"
)

// Script queues responses for userID, answered in order; after the last one
// the user gets the default answer (200) again, or the answer set by
// Forever. Calling Script again appends to the queue. User ids match
// case-insensitively, as in Graph.
func (s *Server) Script(userID string, responses ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := fold(userID)
	s.st.queues[k] = append(s.st.queues[k], cloneResponses(responses)...)
}

// Forever makes r the answer for userID on every call until re-scripted: it
// drops any queued responses for userID. Responses queued by a later Script
// are answered first, so "two 503s, then 404 for ever" is Forever(id, 404)
// followed by Script(id, 503, 503).
func (s *Server) Forever(userID string, r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := fold(userID)
	delete(s.st.queues, k)
	s.st.forever[k] = cloneResponse(r)
}

// Forget drops the queued and Forever responses of userID, who then gets
// the default answer again.
func (s *Server) Forget(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := fold(userID)
	delete(s.st.queues, k)
	delete(s.st.forever, k)
}

// SetDefault sets the answer for users with no script (default 200).
func (s *Server) SetDefault(r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := cloneResponse(r)
	s.st.def = &c
}

// SetOutage makes every call answer 503 (with retryAfter, "" for none) until EndOutage.
// Calls during an outage neither consume scripts nor tokens.
func (s *Server) SetOutage(retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.outage = true
	s.st.outageRA = retryAfter
}

// EndOutage ends an outage.
func (s *Server) EndOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.outage = false
	s.st.outageRA = ""
}

// SetQuota sets the tenant-wide write quota (see Quota), replacing any
// earlier one; a zero Rate removes it. The bucket starts full, Steps count
// from now, and the counters of QuotaStats and SuccessesByUser start again
// from zero, so SetQuota marks the start of a measurement. An invalid q
// (see Quota.Validate) is an error and changes nothing. The quota is
// checked before the token bucket, so a call it throttles does not reach
// the bucket.
func (s *Server) SetQuota(q Quota) error {
	if err := q.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setQuotaLocked(q)
	return nil
}

func (s *Server) setQuotaLocked(q Quota) {
	s.st.quota = nil
	if q.Rate > 0 {
		s.st.quota = newQuotaBucket(q, s.now())
	}
	s.st.epoch++
	s.st.succeeded = 0
	s.st.successes = map[string]int{}
}

// QuotaStats returns a snapshot of the quota and of the successful answers
// since the quota was last set (or the server reset).
func (s *Server) QuotaStats() QuotaStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out QuotaStats
	if q := s.st.quota; q != nil {
		out = q.stats(s.now())
	}
	out.Succeeded = s.st.succeeded
	out.UsersSucceeded = int64(len(s.st.successes))
	return out
}

// SuccessesByUser returns how many 2xx answers each user got from a
// reprocess action since the quota was last set (or the server reset),
// keyed by the lower-cased user id; users with none are absent.
func (s *Server) SuccessesByUser() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.st.successes)
}

// SetTokenBucket limits writes tenant-wide to n per window, answering 429
// with Retry-After when exceeded; n <= 0 removes the limit. SetQuota
// models Graph's quota more closely (throttled calls are charged,
// fractional Retry-After); this sliding window stays for tests that want
// whole-second Retry-After values. Every call to a
// reprocess action that passes the outage and token checks is a write,
// whatever its scripted answer; rejected calls do not consume capacity. The
// limit is a sliding window: a write frees its slot window after it was
// accepted, and Retry-After is the number of seconds, rounded up, until the
// oldest slot frees.
func (s *Server) SetTokenBucket(n int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 || window <= 0 {
		s.st.bucket = nil
		return
	}
	s.st.bucket = newBucket(n, window)
}

// SetLatency sets the delay added to every answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.latency = d
}

// SetAcceptedTokens replaces the bearer tokens the server accepts: a call
// whose Authorization header is not "Bearer " followed by one of them gets
// 401 InvalidAuthenticationToken. With no tokens the server goes back to
// Options.RequireToken (no check when that is empty). To test a client's
// refresh-once behaviour, start with RequireToken "old", call
// SetAcceptedTokens("new"), and let the client's credential hand out "new"
// on its second request for a token.
func (s *Server) SetAcceptedTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(tokens) == 0 {
		s.st.tokens = nil
		return
	}
	s.st.tokens = slices.Clone(tokens)
}

// Requests returns a copy of every recorded request in arrival order (the
// latest Options.MaxRequests when that is set).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st.requests)
}

// Calls returns how many requests targeted userID (matched case-insensitively).
func (s *Server) Calls(userID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.calls[fold(userID)]
}

// Reset forgets scripts, recorded requests, outage, quota and its
// counters, bucket, accepted tokens and latency (which returns to
// Options.Latency).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = newState(s.opts)
	s.gen++
}

func cloneResponse(r Response) Response {
	r.Header = r.Header.Clone()
	return r
}

func cloneResponses(rs []Response) []Response {
	out := make([]Response, len(rs))
	for i, r := range rs {
		out[i] = cloneResponse(r)
	}
	return out
}
