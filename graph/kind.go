package graph

import (
	"context"
	"errors"
	"strconv"

	"github.com/licensefix/licensefix/retry"
)

// Kind is what a failed call means, as a closed set, so that callers act
// on it without reading HTTP status codes.
type Kind int

// Failure kinds.
const (
	// KindTransient: this call failed and the same call may work later
	// (5xx, 408, 409 Directory_ConcurrencyViolation, network, timeout).
	KindTransient Kind = iota + 1
	// KindThrottled: Graph refused the call for the app's or tenant's quota
	// (429); Graph is up, the message is not at fault.
	KindThrottled
	// KindNotFound: Graph does not know the user (404).
	KindNotFound
	// KindRejected: Graph rejected this request for good (400, 405, 501,
	// other 4xx, a user id that cannot be put in a URL).
	KindRejected
	// KindUnauthorized: the credentials are refused (401 after one token
	// refresh, or the identity platform refused to issue a token).
	KindUnauthorized
	// KindForbidden: the app lacks the permission or consent (403).
	KindForbidden
	// KindMisconfigured: the deployment points at something wrong (a
	// redirect, a proxy asking for authentication, an untrusted TLS
	// certificate). Like the two before it, no message is at fault.
	KindMisconfigured
)

// String returns the kind's snake_case name.
func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindThrottled:
		return "throttled"
	case KindNotFound:
		return "not_found"
	case KindRejected:
		return "rejected"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindMisconfigured:
		return "misconfigured"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Kind returns the failure's kind, derived from its status and class.
func (e *Error) Kind() Kind {
	switch e.StatusCode {
	case 429:
		return KindThrottled
	case 404:
		return KindNotFound
	case 401:
		return KindUnauthorized
	case 403:
		return KindForbidden
	}
	class := e.Class
	if class == 0 {
		class = ClassOf(e.Err)
	}
	switch class {
	case retry.Transient:
		return KindTransient
	case retry.Systemic:
		if errors.Is(e.Err, ErrToken) {
			return KindUnauthorized
		}
		return KindMisconfigured
	}
	return KindRejected
}

// KindOf returns the kind of err: the *Error's kind, KindTransient for a
// context or network error (the call may be tried again), KindRejected for
// anything else; 0 for nil.
func KindOf(err error) Kind {
	if err == nil {
		return 0
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Kind()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindTransient
	}
	if ClassOf(err) == retry.Transient {
		return KindTransient
	}
	return KindRejected
}
