package graphsim

// Contract of the Graph simulator. The graph helper implements the stubs in
// api_stubs.go in its own files and deletes that file; declarations here may
// be extended but not renamed.

import (
	"log/slog"
	"net/http"
	"time"
)

// Response is one scripted answer.
type Response struct {
	Status            int           // HTTP status; 0 = 200
	Code              string        // Graph error.code for error bodies ("" = derived from status)
	Message           string        // Graph error.message ("" = derived from status)
	RetryAfter        string        // Retry-After header value verbatim ("" = none)
	Header            http.Header   // extra headers (x-ms-throttle-scope, ...)
	Body              string        // raw body overriding the generated one (e.g. HTML for 502)
	OmitBodyRequestID bool          // directory-style error body without request-id
	Delay             time.Duration // wait before answering (honours the request context)
	Reset             bool          // hijack, send a status line and a header but not their end, then close with a TCP reset
	RedirectTo        string        // answer 307 to this absolute URL
}

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

// Options configures a Server. The zero value answers 200 to every valid call.
type Options struct {
	Addr string // listen address for standalone use; NewServer binds 127.0.0.1:0 when empty
	// RequireToken, when set, makes every call without "Authorization: Bearer <RequireToken>" answer 401.
	RequireToken string
	Latency      time.Duration // added to every answer

	// AppID and TenantID appear in x-ms-throttle-scope on 429s from the
	// quota and the token bucket; defaults are fixed made-up GUIDs (DefaultAppID,
	// DefaultTenantID).
	AppID    string
	TenantID string
	// MaxRequests bounds the recorded requests for long-running use
	// (oldest dropped first); 0 keeps every request. Calls counts all.
	MaxRequests int
	// Now is the clock of the quota (SetQuota) and of Request.Time; nil
	// uses time.Now. Tests inject a fake clock to check the quota's
	// arithmetic exactly. Delays and latency always use real time. Now is
	// called with the server's lock held: it must not call the Server.
	Now func() time.Time
	// Logger receives one debug line per request (never the Authorization
	// header); nil discards.
	Logger *slog.Logger
}
