package graphsim

import (
	"net/url"
	"strings"
)

// API names recorded in Request.API.
const (
	APIBeta = "beta"
	APIV1   = "v1"
)

// route is what a request path names.
type route struct {
	api    string // APIBeta, APIV1 or "" when the path matched nothing
	userID string // decoded user id
}

// parsePath matches an escaped path (as sent) against the two reprocess
// actions. The user is one escaped segment, decoded, either plain
// (/users/{id}/...), parenthesised (/users/('{id}')/...) or in Graph's key
// form (/users('{id}')/...); inside quotes a doubled ' stands for one.
func parsePath(escaped string) route {
	segs := strings.Split(escaped, "/")
	if len(segs) < 4 || segs[0] != "" {
		return route{}
	}
	var api string
	var rest []string
	switch segs[1] {
	case "beta":
		api, rest = APIBeta, []string{"cloudLicensing", "assignments", "reprocessAssignments"}
	case "v1.0":
		api, rest = APIV1, []string{"reprocessLicenseAssignment"}
	default:
		return route{}
	}
	users, err := url.PathUnescape(segs[2])
	if err != nil {
		return route{}
	}
	var decoded string
	var tail []string
	switch {
	case users == "users":
		decoded, err = url.PathUnescape(segs[3])
		if err != nil {
			return route{}
		}
		tail = segs[4:]
	case strings.HasPrefix(users, "users('"):
		decoded, tail = strings.TrimPrefix(users, "users"), segs[3:]
		if !isKeyForm(decoded) {
			return route{}
		}
	default:
		return route{}
	}
	if len(tail) != len(rest) {
		return route{}
	}
	for i := range rest {
		if tail[i] != rest[i] {
			return route{}
		}
	}
	id, ok := unwrapKey(decoded)
	if !ok {
		return route{}
	}
	return route{api: api, userID: id}
}

// isKeyForm reports whether a decoded segment looks like ('...').
func isKeyForm(seg string) bool {
	return len(seg) >= 4 && strings.HasPrefix(seg, "('") && strings.HasSuffix(seg, "')")
}

// unwrapKey returns the user id in a decoded segment, unwrapping the key
// form ('...'); ok is false for an empty or malformed id.
func unwrapKey(s string) (id string, ok bool) {
	if s == "" {
		return "", false
	}
	if isKeyForm(s) {
		inner := s[2 : len(s)-2]
		// A lone quote inside would have ended the literal.
		if strings.Count(inner, "'")%2 != 0 || strings.Contains(strings.ReplaceAll(inner, "''", ""), "'") {
			return "", false
		}
		s = strings.ReplaceAll(inner, "''", "'")
		if s == "" {
			return "", false
		}
	}
	return s, true
}
