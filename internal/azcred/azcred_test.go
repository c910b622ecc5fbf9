package azcred

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The workload identity webhook's environment, and what a pod without it
// still has.
var (
	wiEnv = map[string]string{
		EnvFederatedTokenFile:  "/var/run/secrets/azure/tokens/azure-identity-token",
		EnvClientID:            "11111111-1111-1111-1111-111111111111",
		EnvTenantID:            "33333333-3333-3333-3333-333333333333",
		"AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/",
	}
	k8s = map[string]string{EnvKubernetesServiceHost: "10.0.0.1"}
)

func env(maps ...map[string]string) func(string) string {
	all := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			all[k] = v
		}
	}
	return func(k string) string { return all[k] }
}

func without(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

const secret = "s3cr3t-value-never-shown"

func TestSelect(t *testing.T) {
	t.Parallel()
	sp := map[string]string{EnvTenantID: "t", EnvClientID: "c", EnvClientSecret: secret}
	tests := []struct {
		name    string
		env     func(string) string
		kind    Kind
		missing []string // for an error
		errHas  []string
	}{
		{name: "developer machine", env: env(), kind: KindDefault},
		{name: "developer machine with a service principal", env: env(sp), kind: KindDefault},
		{name: "AKS with workload identity", env: env(k8s, wiEnv), kind: KindWorkloadIdentity},
		{name: "workload identity outside Kubernetes", env: env(wiEnv), kind: KindWorkloadIdentity},
		{name: "AKS without the label", env: env(k8s), missing: []string{EnvFederatedTokenFile, EnvClientID, EnvTenantID},
			errHas: []string{"azure.workload.identity/use", "azure.workload.identity/client-id", EnvKubernetesServiceHost, "IMDS", EnvTokenCredentials}},
		{name: "AKS, label but no client-id annotation", env: env(k8s, without(wiEnv, EnvClientID)), missing: []string{EnvClientID},
			errHas: []string{"AZURE_CLIENT_ID is not set", "azure.workload.identity/client-id"}},
		{name: "token file without tenant", env: env(without(wiEnv, EnvTenantID)), missing: []string{EnvTenantID}},
		{name: "blank values count as unset", env: env(k8s, map[string]string{EnvFederatedTokenFile: " ", EnvClientID: "", EnvTenantID: "t"}),
			missing: []string{EnvFederatedTokenFile, EnvClientID}},
		{name: "AKS with a service principal secret", env: env(k8s, sp), kind: KindEnvironment},
		{name: "AKS with a service principal certificate", env: env(k8s, without(sp, EnvClientSecret), map[string]string{EnvClientCertificatePath: "/c.pem"}), kind: KindEnvironment},
		{name: "AKS with a half service principal", env: env(k8s, without(sp, EnvTenantID)), missing: []string{EnvFederatedTokenFile, EnvTenantID}},
		{name: "explicit managed identity on Kubernetes", env: env(k8s, map[string]string{EnvTokenCredentials: "ManagedIdentityCredential"}), kind: KindTokenCredentials},
		{name: "explicit prod", env: env(k8s, map[string]string{EnvTokenCredentials: "prod"}), kind: KindTokenCredentials},
		{name: "explicit dev", env: env(map[string]string{EnvTokenCredentials: "dev"}), kind: KindTokenCredentials},
		{name: "explicit name, any case", env: env(map[string]string{EnvTokenCredentials: "azureclicredential"}), kind: KindTokenCredentials},
		{name: "explicit wins over workload identity", env: env(k8s, wiEnv, map[string]string{EnvTokenCredentials: "AzureCLICredential"}), kind: KindTokenCredentials},
		{name: "explicit workload identity is built directly", env: env(wiEnv, map[string]string{EnvTokenCredentials: "workloadidentitycredential"}), kind: KindWorkloadIdentity},
		{name: "explicit workload identity, incomplete", env: env(map[string]string{EnvTokenCredentials: "WorkloadIdentityCredential", EnvClientID: "c"}),
			missing: []string{EnvFederatedTokenFile, EnvTenantID}, errHas: []string{"AZURE_TOKEN_CREDENTIALS=WorkloadIdentityCredential"}},
		{name: "invalid explicit value", env: env(k8s, wiEnv, map[string]string{EnvTokenCredentials: "Prod"}),
			errHas: []string{`AZURE_TOKEN_CREDENTIALS="Prod" is not one of dev, prod, EnvironmentCredential`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Select(tc.env)
			if tc.kind != "" {
				require.NoError(t, err)
				assert.Equal(t, tc.kind, c.Kind)
				assert.NotEmpty(t, c.Reason)
				return
			}
			require.Error(t, err)
			assert.True(t, IsConfigError(err))
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.missing, e.Missing)
			for _, v := range tc.missing {
				assert.Contains(t, err.Error(), v, "the error names each missing variable")
			}
			for _, s := range tc.errHas {
				assert.Contains(t, err.Error(), s)
			}
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

func TestSelectWorkloadIdentityValues(t *testing.T) {
	t.Parallel()
	c, err := Select(env(k8s, wiEnv))
	require.NoError(t, err)
	assert.Equal(t, Choice{Kind: KindWorkloadIdentity, Reason: "AZURE_FEDERATED_TOKEN_FILE is set", ClientID: wiEnv[EnvClientID],
		TenantID: wiEnv[EnvTenantID], TokenFile: wiEnv[EnvFederatedTokenFile]}, c)
	assert.Equal(t, "workload-identity (AZURE_FEDERATED_TOKEN_FILE is set), client id 11111111-1111-1111-1111-111111111111, tenant 33333333-3333-3333-3333-333333333333", c.String())
	cred, err := New(c, Options{})
	require.NoError(t, err)
	assert.NotNil(t, cred)
}

func TestErrorNamesNoSecret(t *testing.T) {
	t.Parallel()
	// Every value in the environment, secret or not, stays out of the
	// message: only variable names appear.
	e := map[string]string{EnvKubernetesServiceHost: "10.0.0.1", EnvClientSecret: secret, "AZURE_PASSWORD": secret}
	_, err := Select(env(e))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
	assert.NotContains(t, err.Error(), "10.0.0.1")
}
