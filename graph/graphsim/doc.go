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
// 503), SetQuota (Graph's write quota, below), SetTokenBucket (a simpler
// sliding window of writes, whole-second Retry-After), SetLatency and
// SetAcceptedTokens (401 for other tokens).
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
// the simulator does not know (but not those to ControlQuotaPath). The Authorization header is recorded for
// assertions but never logged.
//
// # The quota
//
// SetQuota models the per-app, per-tenant write quota Graph enforces: a
// token bucket refilling Quota.Rate tokens per second up to Quota.Burst
// (default one second's worth), optionally changing rate at given offsets
// (Quota.Steps: 40/s, then 20/s from 30 s, then 40/s from 60 s). Every call
// to a reprocess action that passes the outage and token checks is
// charged one token, whether it is accepted or not, as Graph keeps counting
// requests made while throttled: the balance goes into debt, at most
// QuotaDebtBursts × Burst tokens deep, and a client that keeps calling
// keeps itself throttled. A call is accepted when a whole token is there
// before it is charged; otherwise it gets 429 TooManyRequests with
//
//	Retry-After: 0.35                       (time until the balance is back at one token, in
//	                                         seconds with at most 3 decimals, at least 0.001)
//	x-ms-throttle-scope: Tenant_Application/Write/{AppID}/{TenantID}
//	x-ms-throttle-information: WriteLimitExceeded
//
// and Graph's error body. A 2xx answer carries
// x-ms-throttle-limit-percentage (usage = (Burst - balance) / Burst, two
// decimals) once usage passes 0.8. The quota lives on the Server, so every
// client of one simulator (several workers, several processes) shares it.
// QuotaStats counts calls charged, accepted and throttled, and 2xx answers
// in all and per distinct user, since the quota was set; other processes
// read and set the same through the HTTP control endpoint ControlQuotaPath
// (Control is its client). Options.Now injects a clock, so tests can check
// the arithmetic exactly.
//
// DemoScenario scripts a small fixed directory for `licensefix dev`; any
// Scenario can be loaded from JSON with ParseScenario or LoadScenarioFile.
// NewTestServer in the graphsimtest package starts a server whose Close is
// registered with testing.TB.Cleanup.
package graphsim
