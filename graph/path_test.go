package graph

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzReprocessURL checks that for any id the URL builder either refuses it
// or produces a URL on the configured host whose path is the configured
// prefix, one user segment that decodes back to the id, and the action.
func FuzzReprocessURL(f *testing.F) {
	for _, s := range []string{
		"alice@contoso.com", "0b5c5bd4-0f2e-4b37-8d2a-1f4a2c3b4d5e", "$admin@contoso.com", "$o'brien@x.com",
		"bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "../x", "a/b", "a?b", "%2e%2e", "@evil", "x\x00", "",
	} {
		f.Add(s, false)
	}
	clients := map[bool]*Client{}
	for _, v1 := range []bool{false, true} {
		api := APIBeta
		if v1 {
			api = APIV1
		}
		c, err := New(Config{RootURL: "http://127.0.0.1:8081/p%2Fq", Auth: AuthNone, API: api})
		if err != nil {
			f.Fatal(err)
		}
		clients[v1] = c
	}
	f.Fuzz(func(t *testing.T, id string, v1 bool) {
		c := clients[v1]
		u, err := c.reprocessURL(id)
		if err != nil {
			if !errors.Is(err, ErrInvalidUserID) {
				t.Fatalf("unexpected error kind %v", err)
			}
			if checkUserID(id) == nil {
				t.Fatalf("id %q passes checkUserID but the URL check refused it: %v", id, err)
			}
			return
		}
		if checkUserID(id) != nil {
			t.Fatalf("refused id %q produced a URL", id)
		}
		got, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("URL for %q does not parse: %v", id, err)
		}
		if got.Scheme != "http" || got.Host != "127.0.0.1:8081" || got.RawQuery != "" || got.Fragment != "" || got.User != nil {
			t.Fatalf("URL for %q left the configured origin: %s", id, got)
		}
		prefix, action := "/p%2Fq/beta/users", betaAction
		if v1 {
			prefix, action = "/p%2Fq/v1.0/users", "/reprocessLicenseAssignment"
		}
		p := got.EscapedPath()
		if !strings.HasPrefix(p, prefix) || !strings.HasSuffix(p, action) || len(p) < len(prefix)+len(action) {
			t.Fatalf("URL for %q has path %s", id, p)
		}
		seg := p[len(prefix) : len(p)-len(action)]
		if strings.ContainsAny(strings.TrimPrefix(seg, "/"), "/?#") {
			t.Fatalf("segment for %q is not one segment: %s", id, seg)
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			t.Fatalf("segment for %q does not unescape: %v", id, err)
		}
		want := "/" + id
		if strings.HasPrefix(id, "$") {
			want = "('" + strings.ReplaceAll(id, "'", "''") + "')"
		}
		if dec != want {
			t.Fatalf("segment for %q decodes to %q, want %q", id, dec, want)
		}
	})
}
