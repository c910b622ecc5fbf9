package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// tokenRefreshMargin: a cached token is replaced this long before it
// expires, so that no request leaves with a token about to lapse.
const tokenRefreshMargin = 5 * time.Minute

// tokenCache caches one bearer token for one scope. Only one goroutine
// fetches at a time; the others wait for it (or for their context).
type tokenCache struct {
	cred  azcore.TokenCredential
	scope string
	now   func() time.Time

	fetching chan struct{} // capacity 1: held while fetching

	mu  sync.Mutex
	tok azcore.AccessToken
}

func newTokenCache(cred azcore.TokenCredential, scope string, now func() time.Time) *tokenCache {
	return &tokenCache{cred: cred, scope: scope, now: now, fetching: make(chan struct{}, 1)}
}

// state reports the cached token, whether it is usable, and whether it
// should be refreshed (past RefreshOn, still usable).
func (tc *tokenCache) state() (tok azcore.AccessToken, usable, refresh bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	now := tc.now()
	usable = tc.tok.Token != "" && now.Before(tc.tok.ExpiresOn.Add(-tokenRefreshMargin))
	refresh = usable && !tc.tok.RefreshOn.IsZero() && !now.Before(tc.tok.RefreshOn)
	return tc.tok, usable, refresh
}

// get returns a token. With claims (a CAE challenge) it always asks the
// credential, passing them on.
func (tc *tokenCache) get(ctx context.Context, claims string) (string, error) {
	if claims == "" {
		if tok, usable, refresh := tc.state(); usable && !refresh {
			return tok.Token, nil
		}
	}
	select {
	case tc.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-tc.fetching }()
	// Someone else may have fetched while we waited.
	tok, usable, refresh := tc.state()
	if claims == "" && usable && !refresh {
		return tok.Token, nil
	}
	fresh, err := tc.cred.GetToken(ctx, policy.TokenRequestOptions{
		Scopes:    []string{tc.scope},
		Claims:    claims,
		EnableCAE: true,
	})
	if err != nil {
		if claims == "" && usable {
			// A proactive refresh failed; the cached token is still good.
			return tok.Token, nil
		}
		return "", err
	}
	tc.mu.Lock()
	tc.tok = fresh
	tc.mu.Unlock()
	return fresh.Token, nil
}

// invalidate drops the cached token if it is still token (a concurrent
// refresh may already have replaced it).
func (tc *tokenCache) invalidate(token string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.tok.Token == token {
		tc.tok = azcore.AccessToken{}
	}
}

// challengeClaims returns the decoded claims of a CAE challenge in the
// WWW-Authenticate values of a 401 (Bearer ... error="insufficient_claims",
// claims="<base64>"), or "" when there is none or it does not decode to
// JSON.
func challengeClaims(values []string) string {
	for _, v := range values {
		params := authParams(v)
		if params["error"] != "insufficient_claims" {
			continue
		}
		enc := params["claims"]
		if enc == "" {
			continue
		}
		for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := e.DecodeString(enc); err == nil && json.Valid(b) {
				return string(b)
			}
		}
	}
	return ""
}

// authParams reads the key="value" / key=value pairs of one challenge,
// ignoring its scheme. Keys are lower-cased.
func authParams(v string) map[string]string {
	out := map[string]string{}
	s := strings.TrimSpace(v)
	if scheme, rest, ok := strings.Cut(s, " "); ok && !strings.Contains(scheme, "=") {
		s = rest
	}
	for s != "" {
		s = strings.TrimLeft(s, " ,")
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		key = strings.ToLower(strings.TrimSpace(key))
		rest = strings.TrimLeft(rest, " ")
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				break // unterminated: ignore the rest
			}
			val, rest = rest[1:1+end], rest[2+end:]
		} else {
			val, rest, _ = strings.Cut(rest, ",")
			val = strings.TrimSpace(val)
		}
		out[key] = val
		s = rest
	}
	return out
}
