package graphsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// errorDateLayout is innerError.date: UTC without a time-zone suffix.
const errorDateLayout = "2006-01-02T15:04:05"

// DefaultCode returns the Graph error code the simulator sends for status
// when a Response leaves Code empty.
func DefaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "Request_BadRequest"
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken"
	case http.StatusForbidden:
		return "Authorization_RequestDenied"
	case http.StatusNotFound:
		return "Request_ResourceNotFound"
	case http.StatusMethodNotAllowed:
		return "Request_BadRequest"
	case http.StatusRequestTimeout:
		return "RequestTimeout"
	case http.StatusConflict:
		return "Directory_ConcurrencyViolation"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusInternalServerError:
		return "InternalServerError"
	case http.StatusNotImplemented:
		return "NotImplemented"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	}
	if status >= 400 && status < 500 {
		return "Request_BadRequest"
	}
	return "UnknownError"
}

// defaultMessage is error.message when a Response leaves Message empty.
func defaultMessage(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "Invalid request."
	case http.StatusUnauthorized:
		return "Access token is empty."
	case http.StatusForbidden:
		return "Insufficient privileges to complete the operation."
	case http.StatusNotFound:
		return "Resource does not exist or one of its queried reference-property objects are not present."
	case http.StatusConflict:
		return "Another object with the same value for property was modified concurrently. Please retry."
	case http.StatusTooManyRequests:
		return "Too many requests. Please try again later."
	case http.StatusServiceUnavailable:
		return "The service is temporarily unavailable. Please try again later."
	}
	if t := http.StatusText(status); t != "" {
		return t + "."
	}
	return "An error occurred."
}

// errorBody is Graph's error envelope.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id,omitempty"`
	ClientRequestID string `json:"client-request-id,omitempty"`
}

// userBody is the user object the v1.0 action returns.
type userBody struct {
	Context           string `json:"@odata.context"`
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
}

// simNamespace derives stable object ids for userPrincipalNames.
var simNamespace = uuid.MustParse("6ba7b811-9dad-11d1-80b4-00c04fd430c8") // RFC 4122 URL namespace

// body returns the body to send and its content type; nil for none.
func (s *Server) body(r *http.Request, rt route, resp Response, status int, reqID string) ([]byte, string) {
	if resp.Body != "" {
		return []byte(resp.Body), sniff(resp.Body)
	}
	switch {
	case status >= 400:
		code := resp.Code
		if code == "" {
			code = DefaultCode(status)
		}
		msg := resp.Message
		if msg == "" {
			msg = defaultMessage(status)
		}
		e := errorBody{Error: errorDetail{Code: code, Message: msg, InnerError: innerError{
			Date:            time.Now().UTC().Format(errorDateLayout),
			RequestID:       reqID,
			ClientRequestID: r.Header.Get("client-request-id"),
		}}}
		if resp.OmitBodyRequestID {
			e.Error.InnerError.RequestID = ""
		}
		b, _ := json.Marshal(e) // plain strings: cannot fail
		return b, "application/json"
	case status == http.StatusOK && rt.api == APIV1:
		b, _ := json.Marshal(v1User(rt.userID)) // plain strings: cannot fail
		return b, "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	}
	return nil, ""
}

// v1User is the user object for id: a GUID is its own object id, a
// userPrincipalName gets a stable derived one.
func v1User(id string) userBody {
	u := userBody{Context: "https://graph.microsoft.com/v1.0/$metadata#users/$entity"}
	if g, err := uuid.Parse(id); err == nil && len(id) == 36 {
		u.ID = g.String()
		u.UserPrincipalName = "user-" + g.String()[:8] + "@contoso.onmicrosoft.com"
	} else {
		u.ID = uuid.NewSHA1(simNamespace, []byte(strings.ToLower(id))).String()
		u.UserPrincipalName = id
	}
	u.DisplayName = strings.SplitN(u.UserPrincipalName, "@", 2)[0]
	return u
}

// sniff guesses a content type for a scripted raw body.
func sniff(body string) string {
	t := strings.TrimSpace(body)
	switch {
	case strings.HasPrefix(t, "{"), strings.HasPrefix(t, "["):
		return "application/json"
	case strings.HasPrefix(t, "<"):
		return "text/html; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}
