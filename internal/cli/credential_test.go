package cli

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/internal/azcred"
)

// aksEnv is a pod's environment: Kubernetes, a Service Bus namespace, Graph
// with Azure auth, and no workload identity unless added.
func aksEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"KUBERNETES_SERVICE_HOST":         "10.0.0.1",
		"LICENSEFIX_SERVICEBUS_NAMESPACE": "sb-licensefix.servicebus.windows.net",
		"LICENSEFIX_GRAPH_AUTH":           "azure",
		"LICENSEFIX_LOG_FORMAT":           "json",
		"AZURE_CLIENT_SECRET":             "not-for-the-logs",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestRunOnKubernetesWithoutWorkloadIdentityExits2(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, aksEnv(nil), "run")
	assert.Equal(t, ExitUsage, code, errOut)
	assert.Contains(t, errOut, "licensefix run: azure credential: running on Kubernetes (KUBERNETES_SERVICE_HOST is set) without workload identity: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID are not set")
	assert.Contains(t, errOut, `azure.workload.identity/use: "true"`)
	assert.NotContains(t, errOut, "not-for-the-logs")
	assert.NotContains(t, errOut, "10.0.0.1")
}

func TestRunWithWorkloadIdentityButNoTokenFileExits2(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "azure-identity-token")
	code, _, errOut := runCLI(t, aksEnv(map[string]string{
		"AZURE_FEDERATED_TOKEN_FILE": missing, "AZURE_CLIENT_ID": "11111111-1111-1111-1111-111111111111", "AZURE_TENANT_ID": "tenant-a",
	}), "run")
	assert.Equal(t, ExitUsage, code, errOut)
	assert.Contains(t, errOut, `"msg":"azure_credential","kind":"workload-identity"`, "the choice is logged")
	assert.Contains(t, errOut, `"client_id":"11111111-1111-1111-1111-111111111111"`)
	assert.Contains(t, errOut, "AZURE_FEDERATED_TOKEN_FILE names a file that cannot be read")
}

func TestOperatorCommandsOnKubernetesWithoutWorkloadIdentityExit2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"dlq", "list"}, {"dlq", "replay", "--dry-run"}, {"send", "--user-id", "a@contoso.com"}} {
		code, _, errOut := runCLI(t, aksEnv(nil), args...)
		assert.Equal(t, ExitUsage, code, "%v: %s", args, errOut)
		assert.Contains(t, errOut, "AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID are not set", args)
	}
}

func TestNoCredentialNeededNoCredentialError(t *testing.T) {
	t.Parallel()
	// A connection string needs no Azure credential: the Kubernetes check
	// does not apply.
	_, env := emulator(t)
	env["KUBERNETES_SERVICE_HOST"] = "10.0.0.1"
	code, out, errOut := runCLIStdin(t, env, "", "dlq", "list")
	assert.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "SEQ")
}

func TestAzureTokenCredentialsInvalidExits2(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, aksEnv(map[string]string{"AZURE_TOKEN_CREDENTIALS": "Everything"}), "run")
	assert.Equal(t, ExitUsage, code, errOut)
	assert.Contains(t, errOut, `AZURE_TOKEN_CREDENTIALS="Everything" is not one of dev, prod`)
}

func TestAuthorityPerCloud(t *testing.T) {
	t.Parallel()
	assert.Empty(t, authority(graph.CloudGlobal).ActiveDirectoryAuthorityHost, "global leaves AZURE_AUTHORITY_HOST in charge")
	assert.Equal(t, "https://login.microsoftonline.us/", authority(graph.CloudUSGov).ActiveDirectoryAuthorityHost)
	assert.Equal(t, "https://login.microsoftonline.us/", authority(graph.CloudUSGovDoD).ActiveDirectoryAuthorityHost)
	assert.Equal(t, "https://login.chinacloudapi.cn/", authority(graph.CloudChina).ActiveDirectoryAuthorityHost)
}

func TestExitCodeOfCredentialErrors(t *testing.T) {
	t.Parallel()
	_, err := azcred.Select(func(k string) string { return map[string]string{"KUBERNETES_SERVICE_HOST": "x"}[k] })
	require.Error(t, err)
	assert.Equal(t, ExitUsage, ExitCode(err))
	assert.Equal(t, ExitFailure, ExitCode(&exitError{code: ExitFailure, err: &azcred.RefusedError{}}))
}
