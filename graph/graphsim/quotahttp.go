package graphsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ControlQuotaPath is the simulator's control endpoint for the quota, so
// that another process (a benchmark driving `licensefix run` subprocesses)
// can read and set it over HTTP:
//
//	GET  /_graphsim/quota   200 with the QuotaStats as JSON
//	POST /_graphsim/quota   body: a quota as in a scenario, e.g.
//	                        {"rate": 40, "burst": 40, "steps": [{"at": "30s", "rate": 20}]};
//	                        sets it as SetQuota does ({} removes it) and
//	                        answers 200 with the fresh QuotaStats, or 400
//	                        naming the bad field
//
// The stats JSON is
//
//	{"enabled": true, "rate": 20, "burst": 40, "balance": -3.5, "elapsed_seconds": 31.2,
//	 "calls": 1234, "accepted": 1200, "throttled": 34, "succeeded": 1190, "users_succeeded": 1100}
//
// It is not a Graph route: calls to it are neither recorded, nor
// authenticated, nor charged to the quota. Control is a client for it.
const ControlQuotaPath = "/_graphsim/quota"

// quotaJSON is a Quota's JSON shape, in scenarios and on ControlQuotaPath.
type quotaJSON struct {
	Rate  float64    `json:"rate"`
	Burst float64    `json:"burst,omitempty"`
	Steps []stepJSON `json:"steps,omitempty"`
}

type stepJSON struct {
	At   duration `json:"at"`
	Rate float64  `json:"rate"`
}

func quotaToWire(q Quota) *quotaJSON {
	w := &quotaJSON{Rate: q.Rate, Burst: q.Burst}
	for _, st := range q.Steps {
		w.Steps = append(w.Steps, stepJSON{At: duration(st.At), Rate: st.Rate})
	}
	return w
}

func quotaFromWire(w quotaJSON) Quota {
	q := Quota{Rate: w.Rate, Burst: w.Burst}
	for _, st := range w.Steps {
		q.Steps = append(q.Steps, QuotaStep{At: time.Duration(st.At), Rate: st.Rate})
	}
	return q
}

// MarshalJSON writes q as {"rate": …, "burst": …, "steps": [{"at": "30s", "rate": …}]}.
func (q Quota) MarshalJSON() ([]byte, error) { return json.Marshal(quotaToWire(q)) }

// UnmarshalJSON reads the form MarshalJSON writes, strictly (unknown
// fields and trailing data are errors), without validating.
func (q *Quota) UnmarshalJSON(data []byte) error {
	var w quotaJSON
	if err := decodeStrict(data, &w); err != nil {
		return fmt.Errorf("graphsim: quota: %w", err)
	}
	*q = quotaFromWire(w)
	return nil
}

// decodeStrict decodes one JSON value, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return nil
}

// quotaStatsJSON is the JSON shape of QuotaStats.
type quotaStatsJSON struct {
	Enabled        bool    `json:"enabled"`
	Rate           float64 `json:"rate"`
	Burst          float64 `json:"burst"`
	Balance        float64 `json:"balance"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Calls          int64   `json:"calls"`
	Accepted       int64   `json:"accepted"`
	Throttled      int64   `json:"throttled"`
	Succeeded      int64   `json:"succeeded"`
	UsersSucceeded int64   `json:"users_succeeded"`
}

// MarshalJSON writes st in the shape documented at ControlQuotaPath.
func (st QuotaStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(quotaStatsJSON{
		Enabled: st.Enabled, Rate: st.Rate, Burst: st.Burst, Balance: st.Balance,
		ElapsedSeconds: st.Elapsed.Seconds(),
		Calls:          st.Calls, Accepted: st.Accepted, Throttled: st.Throttled,
		Succeeded: st.Succeeded, UsersSucceeded: st.UsersSucceeded,
	})
}

// UnmarshalJSON reads the shape MarshalJSON writes (unknown fields are
// ignored, so newer servers can add some).
func (st *QuotaStats) UnmarshalJSON(data []byte) error {
	var w quotaStatsJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("graphsim: quota stats: %w", err)
	}
	*st = QuotaStats{
		Enabled: w.Enabled, Rate: w.Rate, Burst: w.Burst, Balance: w.Balance,
		Elapsed: time.Duration(w.ElapsedSeconds * float64(time.Second)),
		Calls:   w.Calls, Accepted: w.Accepted, Throttled: w.Throttled,
		Succeeded: w.Succeeded, UsersSucceeded: w.UsersSucceeded,
	}
	return nil
}

// serveQuotaControl answers ControlQuotaPath.
func (s *Server) serveQuotaControl(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost, http.MethodPut:
		data, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			writeControlError(w, http.StatusBadRequest, "read body: "+err.Error())
			return
		}
		var q Quota
		if err := q.UnmarshalJSON(data); err != nil {
			writeControlError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.SetQuota(q); err != nil {
			writeControlError(w, http.StatusBadRequest, err.Error())
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, PUT")
		writeControlError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed")
		return
	}
	body, _ := json.Marshal(s.QuotaStats()) // plain numbers and bools: cannot fail
	writeControlJSON(w, r, http.StatusOK, body)
}

func writeControlError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]map[string]string{"error": {
		"code": strings.ReplaceAll(http.StatusText(status), " ", ""), "message": msg}})
	writeControlJSON(w, nil, status, body)
}

func writeControlJSON(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(body) // the client may be gone
	}
}

// Control drives a simulator running in another process (for example
// `licensefix graphsim`) through ControlQuotaPath.
type Control struct {
	URL    string       // the simulator's root, e.g. http://127.0.0.1:8081
	Client *http.Client // nil: http.DefaultClient
}

// QuotaStats reads the simulator's QuotaStats.
func (c Control) QuotaStats(ctx context.Context) (QuotaStats, error) {
	return c.do(ctx, http.MethodGet, nil)
}

// SetQuota sets the simulator's quota as Server.SetQuota does and returns
// the fresh stats. An invalid q is refused by the simulator, and the error
// names the field.
func (c Control) SetQuota(ctx context.Context, q Quota) (QuotaStats, error) {
	body, err := q.MarshalJSON()
	if err != nil {
		return QuotaStats{}, fmt.Errorf("graphsim: control: %w", err)
	}
	return c.do(ctx, http.MethodPost, body)
}

func (c Control) do(ctx context.Context, method string, body []byte) (QuotaStats, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+ControlQuotaPath, rd)
	if err != nil {
		return QuotaStats{}, fmt.Errorf("graphsim: control: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return QuotaStats{}, fmt.Errorf("graphsim: control: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return QuotaStats{}, fmt.Errorf("graphsim: control: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return QuotaStats{}, fmt.Errorf("graphsim: control: %s: %s", resp.Status, e.Error.Message)
		}
		return QuotaStats{}, fmt.Errorf("graphsim: control: %s", resp.Status)
	}
	var st QuotaStats
	if err := st.UnmarshalJSON(data); err != nil {
		return QuotaStats{}, err
	}
	return st, nil
}
