package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/licensefix/licensefix/retry"
)

// Error is every failure Reprocess returns: an HTTP error response or a
// transport failure (StatusCode 0, Err set).
type Error struct {
	StatusCode          int
	Code                string // Graph error.code
	Message             string // Graph error.message
	RequestID           string
	ClientRequestID     string
	Date                time.Time
	RetryAfter          time.Duration
	HasRetryAfter       bool
	ThrottleScope       string
	ThrottleInformation string
	// Diagnostic is x-ms-ags-diagnostic, which Microsoft support asks for.
	Diagnostic string
	Class      retry.Class
	Err        error // transport cause, if any
}

// ErrAttemptTimeout is wrapped by the Transient *Error of a request that
// ran out of its per-attempt time (Config.Timeout).
var ErrAttemptTimeout = errors.New("graph: per-attempt timeout")

// ErrRedirect is wrapped by the Systemic *Error of a 3xx response: the
// client never follows redirects, so no token reaches another location.
var ErrRedirect = errors.New("graph: redirect not followed")

// ErrToken is wrapped by the *Error of a request that could not get a
// bearer token from the credential; the credential's own error is joined
// to it (errors.Is/As reach both).
var ErrToken = errors.New("graph: token acquisition failed")

// Error implements error without secrets. It names the status, the Graph
// error code and message, the request ids and the class; for token
// failures it does not include the credential's error text (reach it with
// errors.Unwrap / errors.As).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("graph: reprocess")
	switch {
	case e.StatusCode != 0:
		b.WriteString(": HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
		}
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
	case errors.Is(e.Err, ErrToken):
		b.WriteString(": ")
		b.WriteString(ErrToken.Error())
	case e.Err != nil:
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "graph: "))
	}
	var attrs []string
	attr := func(k, v string) {
		if v != "" {
			attrs = append(attrs, k+"="+v)
		}
	}
	attr("request_id", e.RequestID)
	attr("client_request_id", e.ClientRequestID)
	if e.HasRetryAfter {
		attr("retry_after", e.RetryAfter.String())
	}
	attr("throttle_scope", e.ThrottleScope)
	attr("throttle_information", e.ThrottleInformation)
	attr("class", e.Class.String())
	b.WriteString(" (")
	b.WriteString(strings.Join(attrs, " "))
	b.WriteString(")")
	return b.String()
}

// Unwrap returns the transport cause.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: the *Error's class, Transient for
// context deadline/network errors, Permanent for anything unknown.
// Reprocess's own errors are either an *Error or a wrapped context error
// (the caller gave up), which ClassOf reports as Transient so the message
// is tried again later. ClassOf(nil) is 0, which is no class.
func ClassOf(err error) retry.Class {
	if err == nil {
		return 0
	}
	var ge *Error
	if errors.As(err, &ge) && ge.Class != 0 {
		return ge.Class
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return retry.Transient
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return retry.Transient
	}
	return retry.Permanent
}

// classifyStatus maps an HTTP status (and Graph error code) to a class.
func classifyStatus(status int, code string) retry.Class {
	switch {
	case status >= 200 && status < 300:
		return 0
	case status == 408, status == 429, status == 500, status == 502, status == 503, status == 504:
		return retry.Transient
	case status == 409 && code == "Directory_ConcurrencyViolation":
		return retry.Transient
	case status == 401, status == 403, status == 407:
		return retry.Systemic
	case status >= 300 && status < 400:
		return retry.Systemic
	case status == 501:
		return retry.Permanent
	case status >= 400 && status < 500:
		return retry.Permanent
	case status >= 500:
		return retry.Transient
	default:
		return retry.Permanent
	}
}

// classifyTransport classifies a transport failure: a TLS certificate that
// does not verify is a deployment problem (Systemic), everything else
// (resets, refused connections, DNS, EOF) is Transient.
func classifyTransport(err error) retry.Class {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) {
		return retry.Systemic
	}
	return retry.Transient
}

// classifyToken classifies a credential failure: an answer from the
// identity platform that will not change by itself (bad secret, unknown
// app or tenant), or a credential that cannot work here, is Systemic; a
// throttled or failing identity platform, or no answer at all, is
// Transient.
func classifyToken(err error) retry.Class {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		s := afe.RawResponse.StatusCode
		if s == 408 || s == 429 || s >= 500 {
			return retry.Transient
		}
		return retry.Systemic
	}
	var nonRetriable interface{ NonRetriable() }
	if errors.As(err, &nonRetriable) {
		return retry.Systemic
	}
	return retry.Transient
}

// errorBody is what parseErrorBody finds in a Graph error response.
type errorBody struct {
	Code            string
	Message         string
	RequestID       string
	ClientRequestID string
	Date            string // innerError.date, no time zone
}

// Bounds on what an error body may contribute to an *Error.
const (
	maxCodeLen    = 128
	maxMessageLen = 1024
	maxInnerDepth = 8
)

// parseErrorBody reads {"error":{"code","message","innerError":{...}}}.
// It tolerates anything: HTML, empty or truncated bodies, wrong types, and
// the older {"odata.error":{"message":{"value":...}}} shape. innerError may
// nest; the first request-id / client-request-id / date found going inward
// wins. Key names match case-insensitively. Strings are cleaned of control
// characters and bounded.
func parseErrorBody(b []byte) errorBody {
	var out errorBody
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return out
	}
	top, _ := doc.(map[string]any)
	errObj, _ := field(top, "error").(map[string]any)
	if errObj == nil {
		errObj, _ = field(top, "odata.error").(map[string]any)
	}
	if errObj == nil {
		return out
	}
	out.Code = clean(str(field(errObj, "code")), maxCodeLen)
	msg := field(errObj, "message")
	if m, ok := msg.(map[string]any); ok {
		msg = field(m, "value")
	}
	out.Message = clean(str(msg), maxMessageLen)
	inner, _ := field(errObj, "innerError").(map[string]any)
	for depth := 0; inner != nil && depth < maxInnerDepth; depth++ {
		if out.RequestID == "" {
			out.RequestID = clean(str(field(inner, "request-id")), maxCodeLen)
		}
		if out.ClientRequestID == "" {
			out.ClientRequestID = clean(str(field(inner, "client-request-id")), maxCodeLen)
		}
		if out.Date == "" {
			out.Date = clean(str(field(inner, "date")), maxCodeLen)
		}
		inner, _ = field(inner, "innerError").(map[string]any)
	}
	return out
}

// field returns m[key], matching the key case-insensitively when there is
// no exact match.
func field(m map[string]any, key string) any {
	if m == nil {
		return nil
	}
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// clean replaces control characters by spaces, trims, and cuts s to at
// most limit bytes on a rune boundary.
func clean(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
