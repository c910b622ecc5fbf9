package azcred

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Environment variables read by Select.
const (
	EnvTokenCredentials      = "AZURE_TOKEN_CREDENTIALS"
	EnvFederatedTokenFile    = "AZURE_FEDERATED_TOKEN_FILE"
	EnvClientID              = "AZURE_CLIENT_ID"
	EnvTenantID              = "AZURE_TENANT_ID"
	EnvClientSecret          = "AZURE_CLIENT_SECRET"
	EnvClientCertificatePath = "AZURE_CLIENT_CERTIFICATE_PATH"
	EnvKubernetesServiceHost = "KUBERNETES_SERVICE_HOST"
)

// Kind is the credential Select chose.
type Kind string

// Kinds of credential.
const (
	// KindWorkloadIdentity is azidentity's WorkloadIdentityCredential,
	// built directly: no fallback to managed identity.
	KindWorkloadIdentity Kind = "workload-identity"
	// KindEnvironment is azidentity's EnvironmentCredential (a service
	// principal with a secret or certificate in the environment), built
	// directly.
	KindEnvironment Kind = "environment"
	// KindTokenCredentials is DefaultAzureCredential restricted by
	// AZURE_TOKEN_CREDENTIALS.
	KindTokenCredentials Kind = "azure-token-credentials"
	// KindDefault is the full DefaultAzureCredential chain.
	KindDefault Kind = "default"
)

// Choice is the credential Select chose and why. It holds no secret.
type Choice struct {
	Kind Kind
	// Reason says in a few words why, for the start-up log line.
	Reason string
	// ClientID, TenantID and TokenFile are set for KindWorkloadIdentity
	// (TokenFile is a path; its contents are never read here).
	ClientID, TenantID, TokenFile string
	// TokenCredentials is AZURE_TOKEN_CREDENTIALS for KindTokenCredentials.
	TokenCredentials string
}

// Error is an environment that cannot authenticate, or would only fail
// slowly. It is a configuration error: the CLI exits 2.
type Error struct {
	// Missing lists the variables that would have to be set.
	Missing []string
	// Problem is the explanation, naming variables and never their values
	// (except AZURE_TOKEN_CREDENTIALS, which is not secret).
	Problem string
}

// Error returns the explanation.
func (e *Error) Error() string { return "azure credential: " + e.Problem }

// IsConfigError reports whether err is an *Error.
func IsConfigError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// tokenCredentialValues are the values of AZURE_TOKEN_CREDENTIALS azidentity
// v1.15 accepts; credential type names compare without regard to case,
// "dev" and "prod" exactly.
var tokenCredentialNames = []string{
	"EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential",
	"AzureCLICredential", "AzureDeveloperCLICredential", "AzurePowerShellCredential",
}

// Select chooses the credential from the environment (see the package
// documentation for the rules). getenv is os.Getenv in production.
func Select(getenv func(string) string) (Choice, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	onKubernetes := get(EnvKubernetesServiceHost) != ""

	if tc := get(EnvTokenCredentials); tc != "" {
		switch {
		case strings.EqualFold(tc, "WorkloadIdentityCredential"):
			return workloadIdentity(get, EnvTokenCredentials+"=WorkloadIdentityCredential")
		case tc == "dev" || tc == "prod" || containsFold(tokenCredentialNames, tc):
			return Choice{Kind: KindTokenCredentials, TokenCredentials: tc, Reason: EnvTokenCredentials + " is set"}, nil
		default:
			return Choice{}, &Error{Problem: fmt.Sprintf("%s=%q is not one of dev, prod, %s", EnvTokenCredentials, tc, strings.Join(tokenCredentialNames, ", "))}
		}
	}
	if get(EnvFederatedTokenFile) != "" {
		return workloadIdentity(get, EnvFederatedTokenFile+" is set")
	}
	if onKubernetes {
		if get(EnvTenantID) != "" && get(EnvClientID) != "" && (get(EnvClientSecret) != "" || get(EnvClientCertificatePath) != "") {
			return Choice{Kind: KindEnvironment, Reason: "on Kubernetes with a service principal in the environment"}, nil
		}
		missing := missingOf(get, EnvFederatedTokenFile, EnvClientID, EnvTenantID)
		return Choice{}, &Error{Missing: missing, Problem: fmt.Sprintf(
			"running on Kubernetes (%s is set) without workload identity: %s not set. "+
				"The pod lacks the label azure.workload.identity/use: \"true\" (or the workload identity webhook is not installed in the cluster), "+
				"or its service account lacks the annotation azure.workload.identity/client-id. "+
				"Without workload identity the default chain would wait on managed identity (IMDS), which the NetworkPolicy blocks; "+
				"set %s to choose a credential explicitly (for example ManagedIdentityCredential) if that is intended",
			EnvKubernetesServiceHost, listVars(missing), EnvTokenCredentials)}
	}
	return Choice{Kind: KindDefault, Reason: "not on Kubernetes and no workload identity in the environment"}, nil
}

func workloadIdentity(get func(string) string, reason string) (Choice, error) {
	if missing := missingOf(get, EnvFederatedTokenFile, EnvClientID, EnvTenantID); len(missing) > 0 {
		return Choice{}, &Error{Missing: missing, Problem: fmt.Sprintf(
			"workload identity is incomplete (%s): %s not set. "+
				"On AKS the webhook sets all three when the pod has the label azure.workload.identity/use: \"true\" "+
				"and its service account the annotation azure.workload.identity/client-id",
			reason, listVars(missing))}
	}
	return Choice{Kind: KindWorkloadIdentity, Reason: reason,
		ClientID: get(EnvClientID), TenantID: get(EnvTenantID), TokenFile: get(EnvFederatedTokenFile)}, nil
}

func missingOf(get func(string) string, names ...string) []string {
	var out []string
	for _, n := range names {
		if get(n) == "" {
			out = append(out, n)
		}
	}
	return out
}

func listVars(vars []string) string {
	if len(vars) == 1 {
		return vars[0] + " is"
	}
	return strings.Join(vars, ", ") + " are"
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// Options configures New. The zero value is the public cloud with the
// authority from AZURE_AUTHORITY_HOST (which the workload identity webhook
// sets) or login.microsoftonline.com.
type Options struct {
	// Cloud selects the authority of a national cloud; zero for the public
	// cloud.
	Cloud cloud.Configuration
	// ClientOptions are passed to azidentity (transport, retries). Its Cloud
	// field is overwritten by Cloud.
	ClientOptions azcore.ClientOptions
	// DisableInstanceDiscovery skips Entra ID's instance metadata request
	// (private clouds; tests against a loopback authority).
	DisableInstanceDiscovery bool
}

// New builds the credential c describes. Workload identity is built from
// c's values; the other kinds read the process environment, as azidentity
// does.
func New(c Choice, o Options) (azcore.TokenCredential, error) {
	co := o.ClientOptions
	co.Cloud = o.Cloud
	switch c.Kind {
	case KindWorkloadIdentity:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, ClientID: c.ClientID, TenantID: c.TenantID, TokenFilePath: c.TokenFile,
			DisableInstanceDiscovery: o.DisableInstanceDiscovery,
		})
	case KindEnvironment:
		cred, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
		if err != nil {
			return nil, fmt.Errorf("azure credential: environment: %w", err)
		}
		return cred, nil
	case KindTokenCredentials, KindDefault:
		cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: o.DisableInstanceDiscovery})
		if err != nil {
			return nil, fmt.Errorf("azure credential: %w", err)
		}
		return cred, nil
	default:
		return nil, fmt.Errorf("azure credential: unknown kind %q", c.Kind)
	}
}

// FromEnvironment is Select followed by New.
func FromEnvironment(getenv func(string) string, o Options) (azcore.TokenCredential, Choice, error) {
	c, err := Select(getenv)
	if err != nil {
		return nil, c, err
	}
	cred, err := New(c, o)
	return cred, c, err
}

// String describes c for a log line: kind, reason, and for workload
// identity the client and tenant ids (not secrets).
func (c Choice) String() string {
	s := string(c.Kind) + " (" + c.Reason + ")"
	if c.Kind == KindWorkloadIdentity {
		s += fmt.Sprintf(", client id %s, tenant %s", c.ClientID, c.TenantID)
	}
	return s
}
