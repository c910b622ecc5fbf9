package sbconn

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const emulatorCS = "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opts    Options
		setting string // "" = valid
	}{
		{"connection string", Options{ConnectionString: emulatorCS}, ""},
		{"sas signature", Options{ConnectionString: "Endpoint=sb://x.servicebus.windows.net/;SharedAccessSignature=SharedAccessSignature sr=a&sig=b&se=1&skn=k"}, ""},
		{"namespace", Options{Namespace: "contoso.servicebus.windows.net"}, ""},
		{"neither", Options{}, EnvConnectionString},
		{"both", Options{ConnectionString: emulatorCS, Namespace: "contoso.servicebus.windows.net"}, EnvNamespace},
		{"no endpoint", Options{ConnectionString: "SharedAccessKeyName=a;SharedAccessKey=SECRETKEY"}, EnvConnectionString},
		{"no key", Options{ConnectionString: "Endpoint=sb://x/;SharedAccessKeyName=a"}, EnvConnectionString},
		{"garbage", Options{ConnectionString: "SECRETKEY"}, EnvConnectionString},
		{"namespace url", Options{Namespace: "sb://contoso.servicebus.windows.net/"}, EnvNamespace},
		{"namespace short", Options{Namespace: "contoso"}, EnvNamespace},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.opts.Validate()
			if tc.setting == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, IsSettingError(err))
			assert.Contains(t, err.Error(), tc.setting)
			assert.NotContains(t, err.Error(), "SECRETKEY")
			assert.NotContains(t, err.Error(), "SAS_KEY_VALUE")
		})
	}
}

func TestNewClientFromConnectionString(t *testing.T) {
	t.Parallel()
	c, err := NewClient(Options{ConnectionString: emulatorCS})
	require.NoError(t, err)
	require.NotNil(t, c)
	require.NoError(t, c.Close(t.Context()))
}

func TestNewClientRejectsBadEmulatorEndpointWithoutLeakingKey(t *testing.T) {
	t.Parallel()
	_, err := NewClient(Options{ConnectionString: "Endpoint=https://x/;SharedAccessKeyName=a;SharedAccessKey=SECRETKEY;UseDevelopmentEmulator=true"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SECRETKEY")
	assert.Contains(t, err.Error(), EnvConnectionString)
}

func TestRedact(t *testing.T) {
	t.Parallel()
	cs := "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=SECRETKEY"
	assert.Equal(t, "bad REDACTED here", redact("bad SECRETKEY here", cs))
	assert.Equal(t, "whole REDACTED", redact("whole "+cs, cs))
}

func TestDiagnose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	emu := func(addr string) Options {
		return Options{ConnectionString: "Endpoint=sb://" + addr + ";SharedAccessKeyName=k;SharedAccessKey=SECRETKEY;UseDevelopmentEmulator=true"}
	}
	// An emulator endpoint that accepts: plain TCP is enough.
	require.NoError(t, emu(ln.Addr().String()).Diagnose(ctx))

	// Nothing listening (a port outside the ephemeral range, so the dial
	// cannot connect to itself).
	err = emu(testutil.FreeAddr(t)).Diagnose(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)

	// A TLS endpoint whose certificate is not trusted.
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	err = Options{ConnectionString: "Endpoint=sb://" + srv.Listener.Addr().String() + "/;SharedAccessKeyName=k;SharedAccessKey=SECRETKEY"}.Diagnose(ctx)
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown)
	assert.NotContains(t, err.Error(), "SECRETKEY")

	// A host that does not resolve (.invalid never does, RFC 2606).
	err = Options{Namespace: "licensefix-test.invalid"}.Diagnose(ctx)
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)

	// A TLS endpoint that accepts TCP but never answers: the caller's deadline.
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	err = Options{Namespace: "localhost:" + strings.TrimPrefix(silent.Addr().String(), "127.0.0.1:")}.Diagnose(tctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestClientOptionsRetryDefaults(t *testing.T) {
	t.Parallel()
	got := Options{}.clientOptions()
	if got.RetryOptions.RetryDelay != DefaultRetryDelay || got.RetryOptions.MaxRetryDelay != DefaultMaxRetryDelay {
		t.Fatalf("defaults = %+v, want %s and %s", got.RetryOptions, DefaultRetryDelay, DefaultMaxRetryDelay)
	}
	given := &azservicebus.ClientOptions{ApplicationID: "x", RetryOptions: azservicebus.RetryOptions{RetryDelay: time.Second, MaxRetries: 7}}
	got = Options{ClientOptions: given}.clientOptions()
	if got.ApplicationID != "x" || got.RetryOptions.RetryDelay != time.Second || got.RetryOptions.MaxRetries != 7 ||
		got.RetryOptions.MaxRetryDelay != DefaultMaxRetryDelay {
		t.Fatalf("with options given = %+v", got)
	}
	if given.RetryOptions.MaxRetryDelay != 0 {
		t.Fatal("the caller's options were modified")
	}
}
