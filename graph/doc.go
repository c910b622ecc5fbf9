// Package graph is licensefix's Microsoft Graph client. It does one thing:
// [Client.Reprocess] asks Graph to reprocess one user's license
// assignments, either with the beta cloudLicensing action
// (POST /beta/users/{id}/cloudLicensing/assignments/reprocessAssignments,
// global cloud only) or the v1.0 action
// (POST /v1.0/users/{id}/reprocessLicenseAssignment).
//
// # One layer retries
//
// The client never retries. Every failure comes back as an [*Error] whose
// Class (see package retry) says what it means: Transient (408, 429, 500,
// 502, 503, 504, 409 Directory_ConcurrencyViolation, network errors,
// per-attempt timeouts), Permanent (400, 404, 405, 501, other 4xx, refused
// user ids) or Systemic (401 after a token refresh, 403, redirects, TLS
// verification failures, credential misconfiguration). The worker loops,
// using RetryAfter as a floor for its backoff. The only repeat inside
// Reprocess is the single request after a 401: the cached token is dropped,
// a new one fetched (with the claims of a CAE challenge when Graph sends
// one) and the call made once more.
//
// # Requests
//
// Each HTTP request carries a fresh client-request-id GUID. We chose one ID
// per request rather than one per message so that every request Microsoft
// support looks up maps to exactly one line in our logs; the worker logs
// the message id next to it. The request has no body and Content-Length: 0,
// a User-Agent, and unless AuthNone a bearer token for the cloud's
// "/.default" scope, cached until five minutes before it expires.
//
// Each request runs under its own timeout (Config.Timeout), a child of the
// caller's context. When the timeout fires the result is a Transient
// *Error wrapping [ErrAttemptTimeout]. When the caller's context ends
// first, Reprocess returns that context's error (wrapped, not an *Error):
// the call was abandoned, Graph did not fail. [ClassOf] reports such
// errors as Transient, so a message is retried later rather than
// dead-lettered.
//
// Redirects are never followed: a 3xx is a Systemic *Error, so a bearer
// token can never be sent to a host other than the configured one.
//
// # User ids in the path
//
// The id is escaped as exactly one path segment (so "#EXT#" becomes
// "%23EXT%23"). A userPrincipalName starting with "$" uses the key form
// Graph documents for it, /users('$x@y') (no slash after users, single
// quotes doubled). Ids that are empty, longer than 1024 bytes, not UTF-8,
// or contain "/", "\", "?", "..", or control characters are refused
// without any request (a Permanent *Error wrapping [ErrInvalidUserID]).
// The final URL is checked to have the configured scheme, host and path
// prefix before anything is sent.
package graph
