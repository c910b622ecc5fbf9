package graphsim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Request is one recorded request.
type Request struct {
	Time             time.Time
	Method           string
	Path             string // the escaped path as sent (request target without the query)
	UserID           string // the decoded user segment, "" if the path did not match
	API              string // "beta" or "v1", "" if the path did not match
	BodyLength       int64
	HasAuthorization bool
	Authorization    string
	ClientRequestID  string
	UserAgent        string
	RetryAttempt     string
	// Status is the status answered; 0 while the answer is pending, for a
	// Reset, or when the client went away first.
	Status int
}

// maxBody bounds how much of a request body is read (and counted).
const maxBody = 1 << 20

// serve handles one request: record it, pick the answer, write it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := sentPath(r)
	if path == ControlQuotaPath {
		s.serveQuotaControl(w, r)
		return
	}
	rt := parsePath(path)
	n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
	auth := r.Header.Get("Authorization")
	rec := Request{
		Time:             s.now(),
		Method:           r.Method,
		Path:             path,
		UserID:           rt.userID,
		API:              rt.api,
		BodyLength:       n,
		HasAuthorization: auth != "",
		Authorization:    auth,
		ClientRequestID:  r.Header.Get("client-request-id"),
		UserAgent:        r.Header.Get("User-Agent"),
		RetryAttempt:     r.Header.Get("Retry-Attempt"),
	}
	a := s.decide(r, rt, rec)
	status := s.write(w, r, rt, a)
	s.mu.Lock()
	if i := a.seq - s.st.dropped; s.gen == a.gen && i >= 0 && i < len(s.st.requests) {
		s.st.requests[i].Status = status
	}
	if s.gen == a.gen && s.st.epoch == a.epoch && rt.api != "" && status >= 200 && status < 300 {
		s.st.succeeded++
		s.st.successes[fold(rt.userID)]++
	}
	s.mu.Unlock()
	s.logger.LogAttrs(r.Context(), slog.LevelDebug, "graphsim_request",
		slog.String("method", r.Method),
		slog.String("path", path),
		slog.String("user_id", rt.userID),
		slog.Int("status", status),
		slog.String("client_request_id", rec.ClientRequestID),
	)
}

// answer is what decide chose.
type answer struct {
	Response
	extra   http.Header   // headers the server adds besides the response's own
	latency time.Duration // Options.Latency or SetLatency
	gen     int           // state generation the request was recorded in
	epoch   int           // quota epoch (state.epoch) the request was decided in
	seq     int           // number of the recorded request in its generation
}

// sentPath returns the path exactly as the client sent it, without the
// query, falling back to the escaped path for requests built in memory.
func sentPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || !strings.HasPrefix(p, "/") {
		return r.URL.EscapedPath()
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// decide records rec and chooses the answer under the lock, in this order:
// unknown path (404), wrong method (405), outage (503), missing or wrong
// token (401), quota (429), token bucket (429), then the user's script, Forever answer,
// or the default. extra holds headers the server adds besides the
// response's own.
func (s *Server) decide(r *http.Request, rt route, rec Request) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.st
	a := answer{extra: http.Header{}, latency: st.latency, gen: s.gen, epoch: st.epoch,
		seq: st.dropped + len(st.requests)}
	st.requests = append(st.requests, rec)
	if limit := s.opts.MaxRequests; limit > 0 && len(st.requests) > limit {
		n := len(st.requests) - limit
		clear(st.requests[:n]) // let go of the dropped strings
		st.requests = st.requests[n:]
		st.dropped += n
	}
	extra := a.extra
	with := func(r Response) answer { a.Response = r; return a }
	if rt.api == "" {
		return with(Response{Status: http.StatusNotFound, Code: "Request_ResourceNotFound",
			Message: "Resource not found for the segment of path " + strconv.Quote(rec.Path) + "."})
	}
	st.calls[fold(rt.userID)]++
	if r.Method != http.MethodPost {
		extra.Set("Allow", http.MethodPost)
		return with(Response{Status: http.StatusMethodNotAllowed, Code: "Request_BadRequest",
			Message: "The OData request is not supported: method " + r.Method + " is not allowed."})
	}
	if st.outage {
		return with(Response{Status: http.StatusServiceUnavailable, RetryAfter: st.outageRA})
	}
	if !s.tokenOK(rec.Authorization) {
		extra.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		return with(Response{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken",
			Message: "Access token validation failure. Invalid audience."})
	}
	extra.Set("x-ms-resource-unit", "1")
	pressure := 0.0 // fraction of the limit in use, for x-ms-throttle-limit-percentage
	if q := st.quota; q != nil {
		ok, usage, wait := q.charge(s.now())
		if !ok {
			return with(s.throttle(extra, formatRetryAfter(wait)))
		}
		pressure = usage
	}
	if b := st.bucket; b != nil {
		now := s.now()
		ok, wait := b.take(now)
		if !ok {
			return with(s.throttle(extra, strconv.FormatInt(retryAfterSeconds(wait), 10)))
		}
		pressure = max(pressure, b.used(now))
	}
	if pressure > 0.8 {
		extra.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(pressure, 'f', 2, 64))
	}
	k := fold(rt.userID)
	if q := st.queues[k]; len(q) > 0 {
		if len(q) == 1 {
			delete(st.queues, k)
		} else {
			st.queues[k] = q[1:]
		}
		return with(q[0])
	}
	if f, ok := st.forever[k]; ok {
		return with(f)
	}
	if st.def != nil {
		return with(*st.def)
	}
	return with(Response{})
}

// throttle returns the tenant-wide write limit's 429, adding its scope
// headers to extra.
func (s *Server) throttle(extra http.Header, retryAfter string) Response {
	extra.Set("x-ms-throttle-scope", "Tenant_Application/Write/"+s.opts.AppID+"/"+s.opts.TenantID)
	extra.Set("x-ms-throttle-information", "WriteLimitExceeded")
	return Response{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// tokenOK checks the Authorization header against the accepted tokens.
// Called with s.mu held.
func (s *Server) tokenOK(auth string) bool {
	tokens := s.st.tokens
	if tokens == nil {
		if s.opts.RequireToken == "" {
			return true
		}
		tokens = []string{s.opts.RequireToken}
	}
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return false
	}
	for _, t := range tokens {
		if tok == t {
			return true
		}
	}
	return false
}

// write waits out latency and the response's delay, then answers. It
// returns the status written, 0 when nothing was.
func (s *Server) write(w http.ResponseWriter, r *http.Request, rt route, a answer) int {
	resp := a.Response
	if !s.wait(r.Context(), a.latency+resp.Delay) {
		return 0
	}
	if resp.Reset {
		s.reset(w)
		return 0
	}
	reqID := uuid.NewString()
	h := w.Header()
	h.Set("request-id", reqID)
	if crid := r.Header.Get("client-request-id"); crid != "" {
		h.Set("client-request-id", crid)
	}
	h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"graphsim","ADSiteName":"SIM"}}`)
	for k, vs := range a.extra {
		h[k] = vs
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status < 200 || status >= 300 {
		h.Del("x-ms-throttle-limit-percentage")
	}
	for k, vs := range resp.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if resp.RetryAfter != "" {
		h.Set("Retry-After", resp.RetryAfter)
	}
	if resp.RedirectTo != "" {
		h.Set("Location", resp.RedirectTo)
		if status < 300 || status >= 400 {
			status = http.StatusTemporaryRedirect
		}
	}
	body, ctype := s.body(r, rt, resp, status, reqID)
	if body != nil {
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", ctype)
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
	} else if status != http.StatusNoContent && status != http.StatusNotModified && status >= 200 {
		h.Set("Content-Length", "0")
	}
	w.WriteHeader(status)
	if body != nil && r.Method != http.MethodHead {
		_, _ = w.Write(body) // the client may be gone; nothing to do about it
	}
	return status
}

// wait sleeps for d unless the request is cancelled (false) or the server
// closes (the handler is aborted, closing the connection).
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		panic(http.ErrAbortHandler)
	}
}

// reset hijacks the connection, writes the start of a response (status
// line and one header, no end of headers) and closes the connection with a
// TCP reset, so the client's request fails mid-response. Without hijack
// support (HTTP/2, a recorder) the handler aborts instead.
func (s *Server) reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n") // the client may be gone
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // RST instead of FIN
	}
	_ = conn.Close()
}
