// Package graphsim is a Microsoft Graph simulator for the two license
// reprocess actions licensefix calls:
//
//	POST /beta/users/{id}/cloudLicensing/assignments/reprocessAssignments
//	POST /v1.0/users/{id}/reprocessLicenseAssignment
//
// It runs in the style of net/http/httptest: NewServer binds 127.0.0.1:0,
// Server.URL is the Graph root to configure in the client, and Close stops
// everything and waits for it. By default every valid call succeeds (200
// with no body on beta, 200 with a JSON user on v1.0). Tests script what a
// user gets next with Script and Forever, change the default with
// SetDefault, and simulate tenant-wide conditions with SetOutage (every call
// 503), SetTokenBucket (writes per window, 429 with Retry-After when
// exceeded), SetLatency and SetAcceptedTokens (401 for other tokens).
// A Response can carry any status, Graph error code, Retry-After value,
// extra headers, a raw body (an HTML 502), a delay that honours the client's
// timeout, a connection reset, or a 307 redirect.
// Throttled and ClaimsChallenge build the two answers that need several
// headers to look real.
//
// Every response carries a fresh request-id, echoes client-request-id and
// has a Date header; error bodies have Graph's shape
//
//	{"error":{"code":"...","message":"...","innerError":{"date":"...","request-id":"...","client-request-id":"..."}}}
//
// Every request is recorded (Requests, Calls), including requests to paths
// the simulator does not know. The Authorization header is recorded for
// assertions but never logged.
//
// DemoScenario scripts a small fixed directory for `licensefix dev`; any
// Scenario can be loaded from JSON with ParseScenario or LoadScenarioFile.
// NewTestServer in the graphsimtest package starts a server whose Close is
// registered with testing.TB.Cleanup.
package graphsim
