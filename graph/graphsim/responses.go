package graphsim

import (
	"encoding/base64"
	"net/http"
)

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
