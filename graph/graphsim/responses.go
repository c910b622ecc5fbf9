package graphsim

import (
	"encoding/base64"
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

// Throttled returns a 429 TooManyRequests as Graph sends it for the
// tenant-wide write limit: Retry-After (verbatim, "" for none),
// x-ms-throttle-scope for DefaultAppID and DefaultTenantID, and
// x-ms-throttle-information WriteLimitExceeded.
func Throttled(retryAfter string) Response {
	return Response{
		Status:     http.StatusTooManyRequests,
		RetryAfter: retryAfter,
		Header: http.Header{
			"X-Ms-Throttle-Scope":       {"Tenant_Application/Write/" + DefaultAppID + "/" + DefaultTenantID},
			"X-Ms-Throttle-Information": {"WriteLimitExceeded"},
		},
	}
}

// ClaimsChallenge returns a 401 carrying a continuous access evaluation
// challenge: WWW-Authenticate with error="insufficient_claims" and the
// base64 of claimsJSON, which a client must pass when it asks for a new
// token.
func ClaimsChallenge(claimsJSON string) Response {
	enc := base64.StdEncoding.EncodeToString([]byte(claimsJSON))
	return Response{
		Status:  http.StatusUnauthorized,
		Code:    "InvalidAuthenticationToken",
		Message: "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
		Header: http.Header{
			"Www-Authenticate": {`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", ` +
				`client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="` + enc + `"`},
		},
	}
}
