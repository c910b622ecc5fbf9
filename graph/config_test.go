package graph

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloudRootAndScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cloud       Cloud
		root, scope string
	}{
		{CloudGlobal, "https://graph.microsoft.com", "https://graph.microsoft.com/.default"},
		{CloudUSGov, "https://graph.microsoft.us", "https://graph.microsoft.us/.default"},
		{CloudUSGovDoD, "https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us/.default"},
		{CloudChina, "https://microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default"},
		{Cloud("mars"), "", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.root, tt.cloud.Root(), tt.cloud)
		assert.Equal(t, tt.scope, tt.cloud.Scope(), tt.cloud)
	}
}

func TestParseSettings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Cloud{"global": CloudGlobal, " USGov ": CloudUSGov, "usgovdod": CloudUSGovDoD, "china": CloudChina} {
		got, err := ParseCloud(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "public", "mars"} {
		_, err := ParseCloud(bad)
		assert.ErrorContains(t, err, "global, usgov, usgovdod or china", bad)
	}
	for in, want := range map[string]API{"beta": APIBeta, "BETA": APIBeta, "v1": APIV1, "v1.0": APIV1} {
		got, err := ParseAPI(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"", "v2", "v1.1"} {
		_, err := ParseAPI(bad)
		assert.ErrorContains(t, err, "want beta or v1", bad)
	}
	for in, want := range map[string]AuthMode{"azure": AuthAzure, "None": AuthNone} {
		got, err := ParseAuthMode(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	_, err := ParseAuthMode("basic")
	assert.ErrorContains(t, err, "want azure or none")
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	cred := &fakeCredential{}
	tests := []struct {
		name    string
		cfg     Config
		env     string
		want    string
		notWant string
	}{
		{"beta in usgov", Config{Cloud: CloudUSGov, API: APIBeta, Credential: cred}, EnvAPI,
			"LICENSEFIX_GRAPH_API=beta is only available in the global cloud (LICENSEFIX_GRAPH_CLOUD=usgov)", ""},
		{"beta in china", Config{Cloud: CloudChina, API: APIBeta, Credential: cred}, EnvAPI, "LICENSEFIX_GRAPH_CLOUD=china", ""},
		{"auth none off loopback", Config{Auth: AuthNone, RootURL: "https://graph.example.com"}, EnvAuth,
			"LICENSEFIX_GRAPH_AUTH=none requires a loopback LICENSEFIX_GRAPH_URL", ""},
		{"auth none without url", Config{Auth: AuthNone}, EnvAuth, "LICENSEFIX_GRAPH_AUTH=none requires a loopback LICENSEFIX_GRAPH_URL", ""},
		{"azure without credential", Config{}, EnvAuth, "LICENSEFIX_GRAPH_AUTH=azure requires a credential", ""},
		{"unknown cloud", Config{Cloud: "mars", Credential: cred}, EnvCloud, "LICENSEFIX_GRAPH_CLOUD=\"mars\"", ""},
		{"unknown api", Config{API: "v2", Credential: cred}, EnvAPI, "LICENSEFIX_GRAPH_API=\"v2\"", ""},
		{"unknown auth", Config{Auth: "basic", Credential: cred}, EnvAuth, "LICENSEFIX_GRAPH_AUTH=\"basic\"", ""},
		{"negative timeout", Config{Timeout: -time.Second, Credential: cred}, EnvTimeout, "LICENSEFIX_GRAPH_TIMEOUT must be > 0", ""},
		{"ftp url", Config{RootURL: "ftp://127.0.0.1", Credential: cred}, EnvURL, "LICENSEFIX_GRAPH_URL=\"ftp://127.0.0.1\" must be an absolute http(s) URL", ""},
		{"relative url", Config{RootURL: "/graph", Credential: cred}, EnvURL, "must be an absolute http(s) URL", ""},
		{"plain http off loopback", Config{RootURL: "http://graph.example.com", Credential: cred}, EnvURL, "must use https unless its host is a loopback address", ""},
		{"url with credentials", Config{RootURL: "https://user:hunter2@graph.example.com", Credential: cred}, EnvURL,
			"LICENSEFIX_GRAPH_URL must not contain user information", "hunter2"},
		{"unparsable url with credentials", Config{RootURL: "https://user:hunter2@[bad", Credential: cred}, EnvURL,
			"LICENSEFIX_GRAPH_URL is not a valid URL", "hunter2"},
		{"url with query", Config{RootURL: "https://graph.example.com/?sig=s3cr3t", Credential: cred}, EnvURL, "LICENSEFIX_GRAPH_URL must not have a query or fragment", "s3cr3t"},
		{"url with fragment", Config{RootURL: "https://graph.example.com/#x", Credential: cred}, EnvURL, "must not have a query or fragment", ""},
		{"user agent injection", Config{UserAgent: "x\r\nAuthorization: y", Credential: cred}, "", "UserAgent must not contain control characters", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.cfg)
			require.Error(t, err)
			assert.Nil(t, c)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, tt.env, ce.Env)
			assert.Contains(t, err.Error(), tt.want)
			if tt.notWant != "" {
				assert.NotContains(t, err.Error(), tt.notWant)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	cred := &fakeCredential{}
	c, err := New(Config{Credential: cred})
	require.NoError(t, err)
	assert.Equal(t, APIBeta, c.api)
	assert.Equal(t, AuthAzure, c.auth)
	assert.Equal(t, "https://graph.microsoft.com", c.root.String())
	assert.Equal(t, DefaultTimeout, c.timeout)
	assert.Equal(t, DefaultUserAgent, c.userAgent)
	assert.Equal(t, "https://graph.microsoft.com/.default", c.tokens.scope)
	_, isTransport := c.transport.(*http.Transport)
	assert.True(t, isTransport)

	// Outside the global cloud the API defaults to v1, the only one there.
	c, err = New(Config{Cloud: CloudUSGovDoD, Credential: cred})
	require.NoError(t, err)
	assert.Equal(t, APIV1, c.api)
	assert.Equal(t, "https://dod-graph.microsoft.us", c.root.String())
	assert.Equal(t, "https://dod-graph.microsoft.us/.default", c.tokens.scope)

	// A RootURL overrides the host, not the token scope.
	c, err = New(Config{Cloud: CloudUSGov, RootURL: "http://127.0.0.1:8081/", Credential: cred})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8081", c.root.String())
	assert.Equal(t, "https://graph.microsoft.us/.default", c.tokens.scope)

	// AuthNone on loopback needs no credential.
	for _, u := range []string{"http://127.0.0.1:1", "http://localhost:2", "http://[::1]:3", "http://127.5.6.7"} {
		c, err = New(Config{Auth: AuthNone, RootURL: u})
		require.NoError(t, err, u)
		assert.Nil(t, c.tokens)
	}
}
