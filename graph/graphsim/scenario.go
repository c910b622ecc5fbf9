package graphsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Scenario is a scripted directory: per-user answers plus tenant-wide
// settings. LoadScenario applies it to a Server; it marshals to and parses
// from JSON (see ParseScenario for the format).
type Scenario struct {
	Name        string         // free text for logs
	Default     *Response      // answer for users without a script; nil: 200
	Users       []UserScript   // per-user scripts, ids unique case-insensitively
	TokenBucket *BucketSetting // tenant-wide sliding-window write limit; nil: none
	Quota       *Quota         // tenant-wide write quota (SetQuota); nil: none
	Latency     time.Duration  // added to every answer
}

// UserScript is what one user gets: Responses in order, then Forever (or
// the default when Forever is nil).
type UserScript struct {
	ID        string
	Responses []Response
	Forever   *Response
}

// BucketSetting is a SetTokenBucket call.
type BucketSetting struct {
	Writes int
	Window time.Duration
}

// Ids of the users DemoScenario scripts. All are valid licensefix user ids
// (GUIDs or userPrincipalNames).
const (
	// DemoHealthyUser1 to DemoHealthyUser3 are object ids answered 200.
	DemoHealthyUser1 = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	DemoHealthyUser2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	DemoHealthyUser3 = "16fd2706-8baf-433b-82eb-8c7fada847da"
	// DemoUPNUser is a userPrincipalName answered 200.
	DemoUPNUser = "adele.vance@contoso.onmicrosoft.com"
	// DemoGuestUser is a B2B guest whose '#' must be sent as %23; answered 200.
	DemoGuestUser = "megan_fabrikam.com#EXT#@contoso.onmicrosoft.com"
	// DemoThrottledUser gets two 429s with Retry-After: 1, then 200.
	DemoThrottledUser = "throttled@contoso.onmicrosoft.com"
	// DemoFlakyUser gets two 503s, then 200.
	DemoFlakyUser = "flaky@contoso.onmicrosoft.com"
	// DemoUnknownUser gets 404 Request_ResourceNotFound for ever.
	DemoUnknownUser = "unknown@contoso.onmicrosoft.com"
	// DemoRejectedUser gets 400 Request_BadRequest for ever.
	DemoRejectedUser = "rejected@contoso.onmicrosoft.com"
)

// DemoScenario scripts the small fixed directory used by `licensefix dev`:
// healthy users (DemoHealthyUser1-3, DemoUPNUser, DemoGuestUser), a
// throttled one, a flaky one, an unknown one and a rejected one.
func DemoScenario() Scenario {
	unavailable := Response{Status: http.StatusServiceUnavailable}
	return Scenario{
		Name: "demo",
		Users: []UserScript{
			{ID: DemoThrottledUser, Responses: []Response{Throttled("1"), Throttled("1")}},
			{ID: DemoFlakyUser, Responses: []Response{unavailable, unavailable}},
			{ID: DemoUnknownUser, Forever: &Response{Status: http.StatusNotFound}},
			{ID: DemoRejectedUser, Forever: &Response{Status: http.StatusBadRequest,
				Message: "Invalid value specified for property 'userPrincipalName' of resource 'User'."}},
		},
	}
}

// DemoUsers lists every user id DemoScenario knows, healthy ones first.
func DemoUsers() []string {
	return []string{DemoHealthyUser1, DemoHealthyUser2, DemoHealthyUser3, DemoUPNUser, DemoGuestUser,
		DemoThrottledUser, DemoFlakyUser, DemoUnknownUser, DemoRejectedUser}
}

// LoadScenario resets the server and applies sc. It does not validate sc;
// ParseScenario does for JSON input. An invalid Quota is not applied.
func (s *Server) LoadScenario(sc Scenario) {
	s.Reset()
	if sc.Default != nil {
		s.SetDefault(*sc.Default)
	}
	if sc.TokenBucket != nil {
		s.SetTokenBucket(sc.TokenBucket.Writes, sc.TokenBucket.Window)
	}
	if sc.Quota != nil {
		_ = s.SetQuota(*sc.Quota) // documented: an invalid quota is not applied
	}
	if sc.Latency > 0 {
		s.SetLatency(sc.Latency)
	}
	for _, u := range sc.Users {
		if u.Forever != nil {
			s.Forever(u.ID, *u.Forever)
		}
		s.Script(u.ID, u.Responses...)
	}
}

// Validate reports the first problem that makes sc unusable, naming the
// field.
func (sc Scenario) Validate() error {
	if sc.Default != nil {
		if err := validateResponse("default", *sc.Default); err != nil {
			return err
		}
	}
	if b := sc.TokenBucket; b != nil && b.Writes > 0 && b.Window <= 0 {
		return errors.New("graphsim: scenario: token_bucket.window must be positive")
	}
	if sc.Quota != nil {
		if err := sc.Quota.validate("graphsim: scenario: quota."); err != nil {
			return err
		}
	}
	if sc.Latency < 0 {
		return errors.New("graphsim: scenario: latency must not be negative")
	}
	seen := map[string]bool{}
	for i, u := range sc.Users {
		where := fmt.Sprintf("users[%d]", i)
		if u.ID == "" {
			return fmt.Errorf("graphsim: scenario: %s.id is empty", where)
		}
		if seen[fold(u.ID)] {
			return fmt.Errorf("graphsim: scenario: %s.id %q appears twice", where, u.ID)
		}
		seen[fold(u.ID)] = true
		for j, r := range u.Responses {
			if err := validateResponse(fmt.Sprintf("%s.responses[%d]", where, j), r); err != nil {
				return err
			}
		}
		if u.Forever != nil {
			if err := validateResponse(where+".forever", *u.Forever); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateResponse(where string, r Response) error {
	switch {
	case r.Status != 0 && (r.Status < 200 || r.Status > 599):
		return fmt.Errorf("graphsim: scenario: %s.status %d is not in 200..599", where, r.Status)
	case r.Delay < 0:
		return fmt.Errorf("graphsim: scenario: %s.delay must not be negative", where)
	case r.RedirectTo != "" && !strings.HasPrefix(r.RedirectTo, "http://") && !strings.HasPrefix(r.RedirectTo, "https://"):
		return fmt.Errorf("graphsim: scenario: %s.redirect_to must be an absolute http(s) URL", where)
	}
	return nil
}

// ParseScenario reads a Scenario from JSON and validates it. Durations are
// Go duration strings; unknown fields are errors that name the field.
//
//	{
//	  "name": "demo",
//	  "default": {"status": 200},
//	  "latency": "20ms",
//	  "token_bucket": {"writes": 3000, "window": "150s"},
//	  "quota": {"rate": 40, "burst": 40, "steps": [{"at": "30s", "rate": 20}, {"at": "60s", "rate": 40}]},
//	  "users": [
//	    {"id": "throttled@contoso.onmicrosoft.com",
//	     "responses": [{"status": 429, "retry_after": "1"}, {"status": 429, "retry_after": "1"}]},
//	    {"id": "unknown@contoso.onmicrosoft.com", "forever": {"status": 404}}
//	  ]
//	}
//
// token_bucket is SetTokenBucket and quota is SetQuota (burst and steps
// are optional; see Quota). A response takes status, code, message, retry_after, header (name to
// value or list of values), body, omit_body_request_id, delay, reset and
// redirect_to.
func ParseScenario(data []byte) (Scenario, error) {
	var sc Scenario
	if err := sc.UnmarshalJSON(data); err != nil {
		return Scenario{}, err
	}
	if err := sc.Validate(); err != nil {
		return Scenario{}, err
	}
	return sc, nil
}

// LoadScenarioFile reads and parses a scenario file.
func LoadScenarioFile(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("graphsim: read scenario: %w", err)
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return Scenario{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return sc, nil
}

// wire types: the JSON shape.
type scenarioJSON struct {
	Name        string        `json:"name,omitempty"`
	Default     *responseJSON `json:"default,omitempty"`
	Latency     duration      `json:"latency,omitempty"`
	TokenBucket *bucketJSON   `json:"token_bucket,omitempty"`
	Quota       *quotaJSON    `json:"quota,omitempty"`
	Users       []userJSON    `json:"users,omitempty"`
}

type bucketJSON struct {
	Writes int      `json:"writes"`
	Window duration `json:"window"`
}

type userJSON struct {
	ID        string         `json:"id"`
	Responses []responseJSON `json:"responses,omitempty"`
	Forever   *responseJSON  `json:"forever,omitempty"`
}

type responseJSON struct {
	Status            int                     `json:"status,omitempty"`
	Code              string                  `json:"code,omitempty"`
	Message           string                  `json:"message,omitempty"`
	RetryAfter        string                  `json:"retry_after,omitempty"`
	Header            map[string]headerValues `json:"header,omitempty"`
	Body              string                  `json:"body,omitempty"`
	OmitBodyRequestID bool                    `json:"omit_body_request_id,omitempty"`
	Delay             duration                `json:"delay,omitempty"`
	Reset             bool                    `json:"reset,omitempty"`
	RedirectTo        string                  `json:"redirect_to,omitempty"`
}

// headerValues is one value or a list of values.
type headerValues []string

func (h headerValues) MarshalJSON() ([]byte, error) {
	if len(h) == 1 {
		return json.Marshal(h[0])
	}
	return json.Marshal([]string(h))
}

func (h *headerValues) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*h = headerValues{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("header value must be a string or a list of strings")
	}
	*h = many
	return nil
}

// duration is a time.Duration written as a Go duration string.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"1.5s\", not %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = duration(v)
	return nil
}

// MarshalJSON writes sc in the format ParseScenario reads.
func (sc Scenario) MarshalJSON() ([]byte, error) {
	w := scenarioJSON{Name: sc.Name, Latency: duration(sc.Latency)}
	if sc.Default != nil {
		r := toWire(*sc.Default)
		w.Default = &r
	}
	if b := sc.TokenBucket; b != nil {
		w.TokenBucket = &bucketJSON{Writes: b.Writes, Window: duration(b.Window)}
	}
	if sc.Quota != nil {
		w.Quota = quotaToWire(*sc.Quota)
	}
	for _, u := range sc.Users {
		uj := userJSON{ID: u.ID}
		for _, r := range u.Responses {
			uj.Responses = append(uj.Responses, toWire(r))
		}
		if u.Forever != nil {
			f := toWire(*u.Forever)
			uj.Forever = &f
		}
		w.Users = append(w.Users, uj)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the format of ParseScenario strictly (unknown fields
// and trailing data are errors) without validating.
func (sc *Scenario) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w scenarioJSON
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("graphsim: scenario: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("graphsim: scenario: data after the JSON object")
	}
	out := Scenario{Name: w.Name, Latency: time.Duration(w.Latency)}
	if w.Default != nil {
		r := fromWire(*w.Default)
		out.Default = &r
	}
	if b := w.TokenBucket; b != nil {
		out.TokenBucket = &BucketSetting{Writes: b.Writes, Window: time.Duration(b.Window)}
	}
	if w.Quota != nil {
		q := quotaFromWire(*w.Quota)
		out.Quota = &q
	}
	for _, u := range w.Users {
		us := UserScript{ID: u.ID}
		for _, r := range u.Responses {
			us.Responses = append(us.Responses, fromWire(r))
		}
		if u.Forever != nil {
			f := fromWire(*u.Forever)
			us.Forever = &f
		}
		out.Users = append(out.Users, us)
	}
	*sc = out
	return nil
}

func toWire(r Response) responseJSON {
	w := responseJSON{
		Status: r.Status, Code: r.Code, Message: r.Message, RetryAfter: r.RetryAfter,
		Body: r.Body, OmitBodyRequestID: r.OmitBodyRequestID, Delay: duration(r.Delay),
		Reset: r.Reset, RedirectTo: r.RedirectTo,
	}
	if len(r.Header) > 0 {
		w.Header = map[string]headerValues{}
		for k, vs := range r.Header {
			w.Header[k] = headerValues(append([]string(nil), vs...))
		}
	}
	return w
}

func fromWire(w responseJSON) Response {
	r := Response{
		Status: w.Status, Code: w.Code, Message: w.Message, RetryAfter: w.RetryAfter,
		Body: w.Body, OmitBodyRequestID: w.OmitBodyRequestID, Delay: time.Duration(w.Delay),
		Reset: w.Reset, RedirectTo: w.RedirectTo,
	}
	if len(w.Header) > 0 {
		r.Header = http.Header{}
		for k, vs := range w.Header {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
	}
	return r
}
