package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/licensefix/licensefix/retry"
)

// Result describes a successful call.
type Result struct {
	StatusCode      int
	RequestID       string
	ClientRequestID string
	// ThrottleLimitPercentage is x-ms-throttle-limit-percentage when present (0 otherwise).
	ThrottleLimitPercentage float64
	Duration                time.Duration
}

// Bounds on how much of a response body is read.
const (
	maxSuccessDrain = 1 << 20  // a 2xx body is read (to reuse the connection) up to this much, then dropped
	maxErrorBody    = 64 << 10 // an error body is parsed from at most this much
)

// Client calls the reprocess action. It classifies failures and never retries
// by itself (apart from one forced token refresh on a 401). It is safe for
// concurrent use.
type Client struct {
	api       API
	auth      AuthMode
	root      *url.URL
	timeout   time.Duration
	userAgent string
	transport http.RoundTripper
	tokens    *tokenCache // nil with AuthNone

	now          func() time.Time // wall clock; replaced in tests
	newRequestID func() string
}

// New validates cfg (beta outside global, AuthNone off loopback, missing
// credential, bad URL are errors naming the setting) and returns a Client.
//
// Zero fields take their defaults: CloudGlobal; APIBeta in the global cloud
// and APIV1 in the others (the beta action exists only in the global
// cloud); AuthAzure; Timeout 30s; UserAgent "licensefix/dev"; a tuned
// *http.Transport. Errors are *ConfigError. RootURL must be https unless
// its host is a loopback address, and must not carry user information, a
// query or a fragment; with a RootURL the token scope remains the cloud's.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	root, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	transport := cfg.Transport
	if transport == nil {
		transport = defaultTransport()
	}
	c := &Client{
		api:          cfg.API,
		auth:         cfg.Auth,
		root:         root,
		timeout:      cfg.Timeout,
		userAgent:    cfg.UserAgent,
		transport:    transport,
		now:          time.Now,
		newRequestID: uuid.NewString,
	}
	if cfg.Auth == AuthAzure {
		c.tokens = newTokenCache(cfg.Credential, cfg.Cloud.Scope(), func() time.Time { return c.now() })
	}
	return c, nil
}

// Reprocess asks Graph to reprocess userID's license assignments. userID
// must already be validated (messages.ValidateUserID); it is escaped anyway.
// Failures are *Error, except when ctx ends first: then the result wraps
// ctx's error (ClassOf reports it as Transient).
//
// On a 401 (with AuthAzure) the cached token is dropped and the request is
// sent once more with a fresh token; a second 401 is a Systemic *Error.
// Result.Duration covers the whole call, including that second request.
func (c *Client) Reprocess(ctx context.Context, userID string) (Result, error) {
	start := time.Now()
	u, err := c.reprocessURL(userID)
	if err != nil {
		return Result{}, &Error{Class: retry.Permanent, Err: err}
	}
	res, ch, err := c.send(ctx, u, "")
	if ch != nil {
		// Exactly one repeat; a 401 to the repeat is returned as it is
		// (Systemic).
		c.tokens.invalidate(ch.token)
		res, _, err = c.send(ctx, u, ch.claims)
	}
	res.Duration = time.Since(start)
	return res, err
}

// challenge is a 401 answered to a request that carried token.
type challenge struct {
	token  string
	claims string // decoded CAE claims, if Graph sent a claims challenge
}

// send makes one request under its own timeout. A non-nil challenge means
// the request got a 401 with a bearer token and may be repeated once.
func (c *Client) send(ctx context.Context, u *url.URL, claims string) (Result, *challenge, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, nil, abandoned(ctx)
	}
	actx, cancel := context.WithTimeoutCause(ctx, c.timeout, ErrAttemptTimeout)
	defer cancel()

	crid := c.newRequestID()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), http.NoBody)
	if err != nil {
		return Result{}, nil, &Error{Class: retry.Permanent, ClientRequestID: crid, Err: err}
	}
	req.URL = u
	req.ContentLength = 0
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("client-request-id", crid)

	var token string
	if c.tokens != nil {
		token, err = c.tokens.get(actx, claims)
		if err != nil {
			return Result{}, nil, c.failure(ctx, actx, crid, fmt.Errorf("%w: %w", ErrToken, err), classifyToken(err))
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}

	// The transport directly, not an http.Client, which would copy the
	// headers on every call for redirects it might follow. A redirect is
	// never followed: it must not carry the bearer token to another
	// location, and a POST turned into a GET by a 302 is not the call we
	// meant (the 3xx becomes ErrRedirect).
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		return Result{}, nil, c.failure(ctx, actx, crid, err, classifyTransport(err))
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The call is done; reading the rest only lets the connection be
		// reused, so its errors do not matter.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSuccessDrain))
		return Result{
			StatusCode:              resp.StatusCode,
			RequestID:               resp.Header.Get("request-id"),
			ClientRequestID:         crid,
			ThrottleLimitPercentage: headerFloat(resp.Header.Get("x-ms-throttle-limit-percentage")),
		}, nil, nil
	}

	// Graph answered: even if the body read fails (timeout, reset), the
	// status decides; the body only adds detail.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	gerr := c.responseError(resp, body, crid)
	if resp.StatusCode == http.StatusUnauthorized && token != "" {
		return Result{}, &challenge{token: token, claims: challengeClaims(resp.Header.Values("WWW-Authenticate"))}, gerr
	}
	return Result{}, nil, gerr
}

// failure turns a request that got no response into the right error:
// the caller's context ended (not a Graph failure), the per-attempt timeout
// fired (Transient), or the transport or credential failed (class).
func (c *Client) failure(ctx, actx context.Context, crid string, err error, class retry.Class) error {
	if ctx.Err() != nil {
		return abandoned(ctx)
	}
	if errors.Is(context.Cause(actx), ErrAttemptTimeout) {
		return &Error{
			Class:           retry.Transient,
			ClientRequestID: crid,
			Err:             fmt.Errorf("%w (%s): %w", ErrAttemptTimeout, c.timeout, err),
		}
	}
	return &Error{Class: class, ClientRequestID: crid, Err: err}
}

// abandoned is the error for a call whose caller's context ended.
func abandoned(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause != nil && cause != err {
		return fmt.Errorf("graph: reprocess abandoned: %w (%w)", err, cause)
	}
	return fmt.Errorf("graph: reprocess abandoned: %w", err)
}

// responseError builds the *Error of a non-2xx response.
func (c *Client) responseError(resp *http.Response, body []byte, crid string) *Error {
	eb := parseErrorBody(body)
	h := resp.Header
	e := &Error{
		StatusCode:          resp.StatusCode,
		Code:                eb.Code,
		Message:             eb.Message,
		RequestID:           clean(h.Get("request-id"), maxCodeLen),
		ClientRequestID:     crid,
		ThrottleScope:       clean(h.Get("x-ms-throttle-scope"), maxCodeLen),
		ThrottleInformation: clean(h.Get("x-ms-throttle-information"), maxCodeLen),
		Diagnostic:          clean(h.Get("x-ms-ags-diagnostic"), maxMessageLen),
	}
	if e.RequestID == "" {
		e.RequestID = eb.RequestID
	}
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		e.Date = t
	} else if t, err := time.Parse("2006-01-02T15:04:05", eb.Date); err == nil {
		e.Date = t.UTC()
	}
	// An HTTP-date Retry-After is relative to the server's clock when the
	// response says what time it is there, which cancels any clock skew.
	now := c.now()
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		now = t
	}
	if ra := h.Get("Retry-After"); ra != "" {
		e.RetryAfter, e.HasRetryAfter = retry.ParseRetryAfter(ra, now)
	}
	e.Class = classifyStatus(resp.StatusCode, e.Code)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		e.Err = ErrRedirect
	}
	return e
}

// headerFloat parses a finite, non-negative float header, 0 otherwise.
func headerFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return f
}
