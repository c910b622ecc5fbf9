package azcred

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entra is a loopback Microsoft Entra ID over TLS: OpenID discovery and a
// token endpoint that answers with status and body. It records the
// client_assertion of each token request.
type entra struct {
	srv *httptest.Server

	mu         sync.Mutex
	status     int
	body       string
	hang       chan struct{} // when non-nil, token requests wait on it
	assertions []string
}

func newEntra(t *testing.T) *entra {
	t.Helper()
	e := &entra{status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := e.srv.URL + "/" + r.PathValue("tenant")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/v2.0",
		})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		e.mu.Lock()
		e.assertions = append(e.assertions, r.PostForm.Get("client_assertion"))
		status, body, hang := e.status, e.body, e.hang
		e.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *entra) answer(status int, body string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status, e.body = status, body
}

func (e *entra) options() Options {
	return Options{
		Cloud:                    cloud.Configuration{ActiveDirectoryAuthorityHost: e.srv.URL + "/"},
		ClientOptions:            azcore.ClientOptions{Transport: e.srv.Client()},
		DisableInstanceDiscovery: true,
	}
}

const saToken = "eyJhbGciOiJSUzI1NiJ9.service-account-token-contents.sig"

// wiChoice selects workload identity from a webhook-like
// environment with a real token file.
func wiChoice(t *testing.T) (Choice, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	require.NoError(t, os.WriteFile(file, []byte(saToken), 0o600))
	c, err := Select(env(k8s, map[string]string{EnvFederatedTokenFile: file, EnvClientID: "11111111-1111-1111-1111-111111111111", EnvTenantID: "tenant-a"}))
	require.NoError(t, err)
	require.Equal(t, KindWorkloadIdentity, c.Kind)
	return c, file
}

const scope = "https://servicebus.azure.net/.default"

func TestCheckWorkloadIdentityGetsAToken(t *testing.T) {
	t.Parallel()
	e := newEntra(t)
	e.answer(http.StatusOK, `{"token_type":"Bearer","expires_in":3600,"access_token":"at-123"}`)
	c, _ := wiChoice(t)
	cred, err := New(c, e.options())
	require.NoError(t, err)
	require.NoError(t, Check(context.Background(), cred, c, scope, 10*time.Second))
	e.mu.Lock()
	defer e.mu.Unlock()
	assert.Equal(t, []string{saToken}, e.assertions, "the token file is presented as the client assertion, directly, once")
}

func TestCheckFederatedCredentialMissing(t *testing.T) {
	t.Parallel()
	e := newEntra(t)
	e.answer(http.StatusBadRequest, `{"error":"invalid_request","error_description":"AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:licensefix:licensefix'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. Trace ID: 0000 Correlation ID: 1111 Timestamp: 2026-12-01 10:00:00Z","error_codes":[700213],"trace_id":"0000"}`)
	c, _ := wiChoice(t)
	cred, err := New(c, e.options())
	require.NoError(t, err)
	start := time.Now()
	err = Check(context.Background(), cred, c, scope, 10*time.Second)
	require.Error(t, err)
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, []int{700213}, refused.Codes)
	msg := err.Error()
	assert.NotContains(t, msg, "\n", "one line")
	assert.Contains(t, msg, "AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:licensefix:licensefix'")
	assert.Contains(t, msg, "client id 11111111-1111-1111-1111-111111111111")
	assert.Contains(t, msg, "has no federated credential matching this pod's service account")
	assert.NotContains(t, msg, "Trace ID")
	assert.NotContains(t, msg, saToken, "the service account token never appears")
	assert.NotContains(t, msg, "service-account-token-contents")
	assert.Less(t, time.Since(start), 10*time.Second, "refused at once, not after the timeout")
}

func TestCheckUnknownClientID(t *testing.T) {
	t.Parallel()
	e := newEntra(t)
	e.answer(http.StatusBadRequest, `{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier '11111111-1111-1111-1111-111111111111' was not found in the directory 'tenant-a'. Trace ID: x","error_codes":[700016]}`)
	c, _ := wiChoice(t)
	cred, err := New(c, e.options())
	require.NoError(t, err)
	err = Check(context.Background(), cred, c, scope, 10*time.Second)
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	assert.Contains(t, err.Error(), "azure.workload.identity/client-id annotation")
}

func TestCheckTokenFileMissing(t *testing.T) {
	t.Parallel()
	c, file := wiChoice(t)
	require.NoError(t, os.Remove(file))
	cred, err := New(c, Options{})
	require.NoError(t, err)
	err = Check(context.Background(), cred, c, scope, time.Second)
	require.Error(t, err)
	assert.True(t, IsConfigError(err), "a missing projected token is a configuration error: %v", err)
	assert.Contains(t, err.Error(), EnvFederatedTokenFile)
}

func TestCheckUnreachableIsNotARefusal(t *testing.T) {
	t.Parallel()
	e := newEntra(t)
	hang := make(chan struct{})
	e.mu.Lock()
	e.hang = hang
	e.mu.Unlock()
	defer close(hang)
	c, _ := wiChoice(t)
	cred, err := New(c, e.options())
	require.NoError(t, err)
	err = Check(context.Background(), cred, c, scope, 500*time.Millisecond)
	require.Error(t, err)
	var refused *RefusedError
	assert.NotErrorAs(t, err, &refused, "a timeout is not Entra's refusal: the caller may carry on")
	assert.False(t, IsConfigError(err))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "within 500ms")
}

func TestParseEntraError(t *testing.T) {
	t.Parallel()
	codes, d := parseEntraError([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: a","error_codes":[7000215]}`))
	assert.Equal(t, []int{7000215}, codes)
	assert.Equal(t, "AADSTS7000215: Invalid client secret provided.", d)
	codes, d = parseEntraError([]byte(`{"error":"invalid_grant"}`))
	assert.Empty(t, codes)
	assert.Equal(t, "invalid_grant", d)
	codes, d = parseEntraError([]byte(`<html>`))
	assert.Empty(t, codes)
	assert.Empty(t, d)
	_, d = parseEntraError([]byte(`{"error_description":"` + strings.Repeat("é", 400) + `"}`))
	assert.LessOrEqual(t, len(d), maxDescription+len("…"))
	assert.True(t, strings.HasSuffix(d, "…"))
}

func FuzzParseEntraError(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_request","error_description":"AADSTS700213: No match. Trace ID: 1","error_codes":[700213]}`))
	f.Add([]byte(`{"error_codes":[1,2,3],"error_description":"a\nb\tc"}`))
	f.Add([]byte(`null`))
	f.Add([]byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, body []byte) {
		_, d := parseEntraError(body)
		if strings.ContainsAny(d, "\n\r\t") {
			t.Fatalf("description has a line break or tab: %q", d)
		}
		if len(d) > maxDescription+len("…") {
			t.Fatalf("description too long: %d", len(d))
		}
		if strings.Contains(d, " Trace ID:") {
			t.Fatalf("trace id kept: %q", d)
		}
	})
}
