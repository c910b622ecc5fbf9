package sbemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CBS token types (put-token application property "type").
const (
	tokenTypeSAS = "servicebus.windows.net:sastoken"
	tokenTypeJWT = "jwt"
)

// jwtGrantLifetime is how long a trusted jwt grant lasts when the request
// carries no usable expiration.
const jwtGrantLifetime = time.Hour

// Authentication failures. Their text never contains the token or key.
var (
	errTokenType      = errors.New("unsupported token type")
	errJWTUntrusted   = errors.New("jwt tokens are not accepted by this emulator (Options.TrustJWT is off)")
	errTokenFormat    = errors.New("malformed SharedAccessSignature token")
	errUnknownKeyName = errors.New("unknown shared access key name")
	errBadSignature   = errors.New("invalid signature")
	errTokenExpired   = errors.New("token expired")
	errWrongAudience  = errors.New("token resource does not cover the requested audience")
)

// authenticator checks CBS tokens against the configured key.
type authenticator struct {
	keyName  string
	key      []byte
	trustJWT bool
}

// verify checks one put-token request and returns the entity path the grant
// covers and when it expires. audience is the request's "name" property;
// expiration its "expiration" property (Unix seconds as text, or empty).
func (a *authenticator) verify(tokType, token, audience, expiration string, now time.Time) (path string, expires time.Time, err error) {
	path = strings.ToLower(nodePath(audience))
	switch tokType {
	case tokenTypeJWT:
		if !a.trustJWT {
			return "", time.Time{}, errJWTUntrusted
		}
		expires = now.Add(jwtGrantLifetime)
		if sec, err := strconv.ParseInt(expiration, 10, 64); err == nil && sec > now.Unix() {
			expires = time.Unix(sec, 0)
		}
		return path, expires, nil
	case tokenTypeSAS:
	default:
		return "", time.Time{}, errTokenType
	}
	sas, err := parseSAS(token)
	if err != nil {
		return "", time.Time{}, err
	}
	keyName, err := url.QueryUnescape(sas.skn)
	if err != nil || subtle.ConstantTimeCompare([]byte(keyName), []byte(a.keyName)) != 1 {
		return "", time.Time{}, errUnknownKeyName
	}
	sig, err := url.QueryUnescape(sas.sig)
	if err != nil {
		return "", time.Time{}, errTokenFormat
	}
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte(sas.sr + "\n" + sas.se))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return "", time.Time{}, errBadSignature
	}
	se, err := strconv.ParseInt(sas.se, 10, 64)
	if err != nil {
		return "", time.Time{}, errTokenFormat
	}
	expires = time.Unix(se, 0)
	if !now.Before(expires) {
		return "", time.Time{}, errTokenExpired
	}
	resource, err := url.QueryUnescape(sas.sr)
	if err != nil {
		return "", time.Time{}, errTokenFormat
	}
	if !covers(strings.ToLower(resourcePath(resource)), path) {
		return "", time.Time{}, errWrongAudience
	}
	return path, expires, nil
}

type sasFields struct{ sr, sig, se, skn string }

// parseSAS splits "SharedAccessSignature sr=..&sig=..&se=..&skn=.." without
// decoding any value (the signature covers sr exactly as sent).
func parseSAS(token string) (sasFields, error) {
	rest, ok := strings.CutPrefix(token, "SharedAccessSignature ")
	if !ok {
		return sasFields{}, errTokenFormat
	}
	var f sasFields
	seen := map[string]bool{}
	for part := range strings.SplitSeq(rest, "&") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || seen[k] {
			return sasFields{}, errTokenFormat
		}
		seen[k] = true
		switch k {
		case "sr":
			f.sr = v
		case "sig":
			f.sig = v
		case "se":
			f.se = v
		case "skn":
			f.skn = v
		}
	}
	if f.sr == "" || f.sig == "" || f.se == "" || f.skn == "" {
		return sasFields{}, errTokenFormat
	}
	return f, nil
}

// covers reports whether a grant for path grant authorizes entity: the
// namespace root covers everything, "q1" covers "q1" and "q1/...".
func covers(grant, entity string) bool {
	entity = strings.ToLower(entity)
	return grant == "" || entity == grant || strings.HasPrefix(entity, grant+"/")
}

// grants are one connection's CBS authorizations: entity path → expiry.
type grants struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (g *grants) add(path string, expires time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]time.Time{}
	}
	if old, ok := g.m[path]; !ok || expires.After(old) {
		g.m[path] = expires
	}
}

// allowed reports whether some unexpired grant covers entity.
func (g *grants) allowed(entity string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p, exp := range g.m {
		if now.Before(exp) && covers(p, entity) {
			return true
		}
	}
	return false
}
