package sbconn

import (
	"testing"

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
