package sbemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testKeyName = "RootManageSharedAccessKey"
	testKey     = "SAS_KEY_VALUE"
)

// signNodeSAS signs the way the Node SDK does: encodeURIComponent keeps case.
func signNodeSAS(resource, keyName, key string, expiry time.Time) string {
	sr := strings.ReplaceAll(url.QueryEscape(resource), "+", "%20")
	se := strconv.FormatInt(expiry.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(sr + "\n" + se))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return "SharedAccessSignature sr=" + sr + "&sig=" + sig + "&se=" + se + "&skn=" + url.QueryEscape(keyName)
}

func TestAuthenticatorVerify(t *testing.T) {
	t.Parallel()
	now := time.Now()
	later := now.Add(time.Hour)
	a := &authenticator{keyName: testKeyName, key: []byte(testKey)}
	aud := "amqp://127.0.0.1:5672/license-fixed"
	for _, tc := range []struct {
		name, tokType, token, audience string
		want                           error
		wantPath                       string
	}{
		{"valid Go token", tokenTypeSAS, signSAS(aud, testKeyName, testKey, later), aud, nil, "license-fixed"},
		{"valid Node token, sb scheme, case kept", tokenTypeSAS, signNodeSAS("sb://127.0.0.1:5672/License-Fixed", testKeyName, testKey, later), "sb://127.0.0.1:5672/license-fixed", nil, "license-fixed"},
		{"entity token covers its management node", tokenTypeSAS, signSAS(aud, testKeyName, testKey, later), aud + "/$management", nil, "license-fixed/$management"},
		{"entity token covers its dead-letter queue", tokenTypeSAS, signSAS(aud, testKeyName, testKey, later), aud + "/$DeadLetterQueue", nil, "license-fixed/$deadletterqueue"},
		{"namespace token covers every entity", tokenTypeSAS, signSAS("sb://127.0.0.1:5672/", testKeyName, testKey, later), aud, nil, "license-fixed"},
		{"host and port are ignored", tokenTypeSAS, signSAS("amqps://elsewhere.example/license-fixed", testKeyName, testKey, later), aud, nil, "license-fixed"},
		{"wrong key", tokenTypeSAS, signSAS(aud, testKeyName, "other-key", later), aud, errBadSignature, ""},
		{"wrong key name", tokenTypeSAS, signSAS(aud, "SomeOtherRule", testKey, later), aud, errUnknownKeyName, ""},
		{"expired", tokenTypeSAS, signSAS(aud, testKeyName, testKey, now.Add(-time.Second)), aud, errTokenExpired, ""},
		{"wrong audience", tokenTypeSAS, signSAS("amqp://127.0.0.1:5672/other-queue", testKeyName, testKey, later), aud, errWrongAudience, ""},
		{"prefix is not a parent", tokenTypeSAS, signSAS("amqp://127.0.0.1:5672/license", testKeyName, testKey, later), aud, errWrongAudience, ""},
		{"tampered sr", tokenTypeSAS, strings.Replace(signSAS("amqp://127.0.0.1:5672/other", testKeyName, testKey, later), "other", "license-fixed", 1), aud, errBadSignature, ""},
		{"tampered se", tokenTypeSAS, strings.Replace(signSAS(aud, testKeyName, testKey, later), "&se=", "&se=9", 1), aud, errBadSignature, ""},
		{"no prefix", tokenTypeSAS, strings.TrimPrefix(signSAS(aud, testKeyName, testKey, later), "SharedAccessSignature "), aud, errTokenFormat, ""},
		{"missing sig", tokenTypeSAS, "SharedAccessSignature sr=a&se=1&skn=" + testKeyName, aud, errTokenFormat, ""},
		{"repeated field", tokenTypeSAS, signSAS(aud, testKeyName, testKey, later) + "&sr=x", aud, errTokenFormat, ""},
		{"empty token", tokenTypeSAS, "", aud, errTokenFormat, ""},
		{"jwt untrusted", tokenTypeJWT, "eyJ.x.y", aud, errJWTUntrusted, ""},
		{"unknown type", "x509", "whatever", aud, errTokenType, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, exp, err := a.verify(tc.tokType, tc.token, tc.audience, "0", now)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				assert.NotContains(t, err.Error(), testKey)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantPath, path)
			assert.Equal(t, later.Unix(), exp.Unix())
		})
	}
}

func TestAuthenticatorTrustedJWT(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a := &authenticator{keyName: testKeyName, key: []byte(testKey), trustJWT: true}
	path, exp, err := a.verify(tokenTypeJWT, "eyJ.anything", "sb://host/q1", "", now)
	require.NoError(t, err)
	assert.Equal(t, "q1", path)
	assert.Equal(t, now.Add(jwtGrantLifetime), exp)

	want := now.Add(10 * time.Minute).Truncate(time.Second)
	_, exp, err = a.verify(tokenTypeJWT, "eyJ.anything", "sb://host/q1", strconv.FormatInt(want.Unix(), 10), now)
	require.NoError(t, err)
	assert.Equal(t, want.Unix(), exp.Unix())
}

// TestAddressForms pins every address form the SDKs send (Go, Node and
// Python link addresses and CBS audiences) to the one node path it names.
func TestAddressForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, node, resource string }{
		{"license-fixed", "license-fixed", ""}, // a schemeless resource starts with the host
		{"/license-fixed", "license-fixed", "license-fixed"},
		{"license-fixed/", "license-fixed", ""},
		{"sb://127.0.0.1/license-fixed", "license-fixed", "license-fixed"},
		{"amqps://127.0.0.1/license-fixed", "license-fixed", "license-fixed"},
		{"amqp://127.0.0.1:5672/q1", "q1", "q1"},
		{"sb://ns.servicebus.windows.net/Q1/", "Q1", "Q1"},
		{"amqps://ns/q1/$management", "q1/$management", "q1/$management"},
		{"amqps://127.0.0.1/license-fixed/$DeadLetterQueue", "license-fixed/$DeadLetterQueue", "license-fixed/$DeadLetterQueue"},
		{"amqps://h:5671/q1/$DeadLetterQueue/$management", "q1/$DeadLetterQueue/$management", "q1/$DeadLetterQueue/$management"},
		{"sb://h/t1/Subscriptions/s1", "t1/Subscriptions/s1", "t1/Subscriptions/s1"},
		{"t1/Subscriptions/s1/$DeadLetterQueue", "t1/Subscriptions/s1/$DeadLetterQueue", "Subscriptions/s1/$DeadLetterQueue"},
		{"amqps://h/$cbs", "$cbs", "$cbs"},
		{"$cbs", "$cbs", ""},
		{"sb://127.0.0.1:5672/", "", ""},
		{"sb://127.0.0.1:5672", "", ""},
		{"", "", ""},
		{"ns.servicebus.windows.net/q1/$DeadLetterQueue", "ns.servicebus.windows.net/q1/$DeadLetterQueue", "q1/$DeadLetterQueue"},
		{"q1/not a scheme://x/y", "q1/not a scheme://x/y", "not a scheme://x/y"}, // "://" inside a path is no URI
		{"://h/q1", "://h/q1", "h/q1"},                                           // no scheme: not a URI
		{"SB://H/Q1", "Q1", "Q1"},
	} {
		assert.Equal(t, tc.node, nodePath(tc.in), "nodePath(%q)", tc.in)
		assert.Equal(t, tc.resource, resourcePath(tc.in), "resourcePath(%q)", tc.in)
	}
	assert.True(t, covers("", "anything"))
	assert.True(t, covers("q1", "Q1/$management"))
	assert.True(t, covers("q1", "q1"))
	assert.False(t, covers("q1", "q10"))
	assert.False(t, covers("q1/$management", "q1"))
}

// TestVerifyAudienceForms: a put-token whose name is any SDK's form of the
// entity grants that entity, and only it.
func TestVerifyAudienceForms(t *testing.T) {
	t.Parallel()
	a := &authenticator{keyName: testKeyName, key: []byte(testKey)}
	later := time.Now().Add(time.Hour)
	for _, audience := range []string{
		"q1", "/q1", "sb://127.0.0.1/q1", "amqps://127.0.0.1/q1", "amqp://127.0.0.1:5672/Q1",
	} {
		tok := signSAS("sb://any-host:1/q1", testKeyName, testKey, later)
		path, _, err := a.verify(tokenTypeSAS, tok, audience, "", time.Now())
		require.NoError(t, err, audience)
		assert.Equal(t, "q1", path, audience)
	}
	tok := signSAS("sb://h/q1", testKeyName, testKey, later)
	_, _, err := a.verify(tokenTypeSAS, tok, "amqps://h/q2", "", time.Now())
	require.ErrorIs(t, err, errWrongAudience, "a token for q1 does not cover q2")
}

func TestGrantsExpire(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var g grants
	assert.False(t, g.allowed("q1", now))
	g.add("q1", now.Add(time.Minute))
	g.add("q1", now.Add(time.Second)) // an earlier expiry never shortens a grant
	assert.True(t, g.allowed("q1/$management", now))
	assert.True(t, g.allowed("q1", now.Add(30*time.Second)))
	assert.False(t, g.allowed("q1", now.Add(time.Minute)))
	assert.False(t, g.allowed("q2", now))
}
