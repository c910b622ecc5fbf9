package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/internal/azcred"
)

// authority returns the Entra ID authority of a Graph cloud; the zero value
// (the public cloud, or AZURE_AUTHORITY_HOST when set) for global.
func authority(c graph.Cloud) cloud.Configuration {
	switch c {
	case graph.CloudUSGov, graph.CloudUSGovDoD:
		return cloud.AzureGovernment
	case graph.CloudChina:
		return cloud.AzureChina
	}
	return cloud.Configuration{}
}

// azureCredential chooses the credential run uses for Service Bus and
// Graph from the environment (azcred.Select), logs the choice, and asks it
// for a token for each scope, so that a misconfigured identity stops
// start-up within seconds: an environment that cannot work (on Kubernetes
// without workload identity, a token file that is not there) is a
// configuration error (exit 2); Entra ID refusing the identity (no
// federated credential, unknown client id) exits 1. A check that fails for
// any other reason (Entra ID unreachable, slow) is logged and start-up
// carries on: the SDKs retry, and readiness reports what follows.
func azureCredential(ctx context.Context, logger *slog.Logger, getenv func(string) string, c graph.Cloud, scopes []string) (azcore.TokenCredential, azcred.Choice, error) {
	cred, choice, err := azcred.FromEnvironment(getenv, azcred.Options{Cloud: authority(c)})
	if err != nil {
		return nil, choice, err
	}
	logger.InfoContext(ctx, "azure_credential", slog.String("kind", string(choice.Kind)), slog.String("reason", choice.Reason),
		slog.String("client_id", choice.ClientID), slog.String("tenant_id", choice.TenantID))
	for _, scope := range scopes {
		err := azcred.Check(ctx, cred, choice, scope, azcred.DefaultCheckTimeout)
		var refused *azcred.RefusedError
		switch {
		case err == nil:
		case azcred.IsConfigError(err):
			return nil, choice, err
		case errors.As(err, &refused):
			return nil, choice, &exitError{code: ExitFailure, err: err}
		default:
			logger.WarnContext(ctx, "azure_credential_check_failed", slog.String("scope", scope), slog.String("error", err.Error()))
		}
	}
	return cred, choice, nil
}
