package graph

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidUserID is wrapped by the Permanent *Error that Reprocess
// returns, without sending anything, for an id it refuses to put in a URL.
var ErrInvalidUserID = errors.New("graph: user id refused")

// maxUserIDLen bounds an id in bytes. A userPrincipalName is at most 113
// characters; this leaves room for anything Graph might accept.
const maxUserIDLen = 1024

// checkUserID refuses ids that could steer a request elsewhere, as a second
// line of defence behind messages.ValidateUserID.
func checkUserID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidUserID)
	case len(id) > maxUserIDLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidUserID, maxUserIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidUserID)
	case strings.ContainsAny(id, `/\?`):
		return fmt.Errorf("%w: contains '/', '\\' or '?'", ErrInvalidUserID)
	case strings.Contains(id, ".."):
		return fmt.Errorf("%w: contains \"..\"", ErrInvalidUserID)
	case strings.ContainsFunc(id, unicode.IsControl):
		return fmt.Errorf("%w: contains a control character", ErrInvalidUserID)
	}
	return nil
}

// escapeSegment escapes s so that it is exactly one path segment: besides
// what url.PathEscape escapes ('/', '?', '#', '%', ';', ',', quotes,
// parentheses, spaces, non-ASCII), nothing is left that a server or proxy
// could read as a separator.
func escapeSegment(s string) string {
	e := url.PathEscape(s)
	// url.PathEscape already encodes '#'; keep the guarantee explicit in
	// case its rules ever change, since an unencoded '#' would silently cut
	// the path at a fragment (B2B "#EXT#" UPNs).
	return strings.ReplaceAll(e, "#", "%23")
}

// userSegment returns the escaped and unescaped path part naming id after
// ".../users". Normally that is "/" and the escaped id. A userPrincipalName
// starting with '$' would read as an OData system segment ($count, $ref,
// ...), so, as Graph documents, it takes the key form instead: no slash,
// the id in parentheses and single quotes, users('$x@y'), with single
// quotes inside doubled.
func userSegment(id string) (escaped, unescaped string) {
	if strings.HasPrefix(id, "$") {
		quoted := strings.ReplaceAll(id, "'", "''")
		return "('" + escapeSegment(quoted) + "')", "('" + quoted + "')"
	}
	return "/" + escapeSegment(id), "/" + id
}

// reprocessURL builds the action URL for id and checks that it still points
// at the configured scheme, host and path prefix.
func (c *Client) reprocessURL(id string) (*url.URL, error) {
	if err := checkUserID(id); err != nil {
		return nil, err
	}
	var version, action string
	switch c.api {
	case APIV1:
		version, action = "/v1.0/users", "/reprocessLicenseAssignment"
	default:
		version, action = "/beta/users", "/cloudLicensing/assignments/reprocessAssignments"
	}
	esc, plain := userSegment(id)
	prefix := c.root.EscapedPath() + version
	want := prefix + esc + action
	u := &url.URL{
		Scheme:  c.root.Scheme,
		Host:    c.root.Host,
		Path:    c.root.Path + version + plain + action,
		RawPath: want,
	}
	if u.EscapedPath() != want {
		return nil, fmt.Errorf("%w: cannot be encoded as one path segment", ErrInvalidUserID)
	}
	// Re-read the URL as the transport will and make sure nothing moved:
	// same origin, same path, and the user part is one segment (a leading
	// slash and no other, or none at all in the key form).
	got, err := url.Parse(u.String())
	if err != nil || got.Scheme != c.root.Scheme || got.Host != c.root.Host ||
		got.EscapedPath() != want || got.RawQuery != "" || got.ForceQuery || got.Fragment != "" ||
		strings.Contains(strings.TrimPrefix(esc, "/"), "/") {
		return nil, fmt.Errorf("%w: the request URL would leave %s", ErrInvalidUserID, prefix)
	}
	return u, nil
}
