package azcred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// DefaultCheckTimeout bounds Check when the caller gives no timeout.
const DefaultCheckTimeout = 20 * time.Second

// RefusedError is Microsoft Entra ID refusing the credential: retrying
// cannot help until the deployment is fixed.
type RefusedError struct {
	// Choice is the credential that was refused.
	Choice Choice
	// Scope is the scope the token was asked for.
	Scope string
	// Codes are Entra ID's error codes (700213 for AADSTS700213).
	Codes []int
	// Description is the start of Entra ID's error_description, without
	// its trace and correlation ids.
	Description string
	// Hint says what to fix, or is empty for a code without one.
	Hint string
}

// Error is one line: what was refused, Entra ID's words, what to fix.
func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "azure credential %s: Microsoft Entra ID refused a token for %s", e.Choice, e.Scope)
	if e.Description != "" {
		fmt.Fprintf(&b, ": %s", e.Description)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, ". %s", e.Hint)
	}
	return b.String()
}

// Check asks cred for one token for scope within timeout (0:
// DefaultCheckTimeout), so that a misconfigured identity shows at start-up.
// It returns a *RefusedError when Entra ID refused; an *Error when c names a
// token file that cannot be read; and any other failure (network, timeout)
// wrapped, which the caller may log and carry on from, since the SDKs retry.
func Check(ctx context.Context, cred azcore.TokenCredential, c Choice, scope string, timeout time.Duration) error {
	if c.Kind == KindWorkloadIdentity {
		if _, err := os.Stat(c.TokenFile); err != nil {
			return &Error{Missing: []string{EnvFederatedTokenFile}, Problem: fmt.Sprintf(
				"%s names a file that cannot be read (%v): the service account token is not projected into the pod; "+
					"check the pod's azure.workload.identity/use label and the webhook", EnvFederatedTokenFile, errors.Unwrap(err))}
		}
	}
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err == nil {
		return nil
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil && afe.RawResponse.StatusCode >= 400 && afe.RawResponse.StatusCode < 500 {
		body, _ := runtime.Payload(afe.RawResponse)
		codes, desc := parseEntraError(body)
		return &RefusedError{Choice: c, Scope: scope, Codes: codes, Description: desc, Hint: hint(codes, c)}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("azure credential %s: no token for %s within %s: %w", c, scope, timeout, ctx.Err())
	}
	return fmt.Errorf("azure credential %s: no token for %s: %s", c, scope, oneLine(err.Error()))
}

// maxDescription bounds the part of Entra ID's description kept.
const maxDescription = 400

// parseEntraError reads Entra ID's OAuth error body ({"error":...,
// "error_description":..., "error_codes":[...]}). It returns no codes and
// an empty description for a body it cannot read. The description is cut
// before " Trace ID:" and kept to one line of at most maxDescription bytes.
func parseEntraError(body []byte) (codes []int, description string) {
	var v struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if json.Unmarshal(body, &v) != nil {
		return nil, ""
	}
	d := oneLine(v.Description)
	if d == "" {
		d = oneLine(v.Error)
	}
	if i := strings.Index(d, " Trace ID:"); i >= 0 {
		d = d[:i]
	}
	if len(d) > maxDescription {
		d = strings.ToValidUTF8(d[:maxDescription], "") + "…"
	}
	return v.Codes, d
}

// oneLine collapses runs of white space (newlines included) to one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// hint says what to fix for Entra ID's error codes.
func hint(codes []int, c Choice) string {
	has := func(code int) bool { return slices.Contains(codes, code) }
	switch {
	case has(700213) || has(70021):
		return fmt.Sprintf("The identity with client id %s has no federated credential matching this pod's service account: "+
			"add one with the cluster's OIDC issuer and subject system:serviceaccount:<namespace>:<service account> (deploy/azure/main.bicep creates it)", c.ClientID)
	case has(700211):
		return "The federated credential's issuer is not this cluster's: set it to the OIDC issuer URL (az aks show --query oidcIssuerProfile.issuerUrl)"
	case has(700016):
		return fmt.Sprintf("No application or managed identity with client id %s exists in tenant %s: check the service account's azure.workload.identity/client-id annotation (AZURE_CLIENT_ID)", c.ClientID, c.TenantID)
	case has(90002):
		return fmt.Sprintf("Tenant %s does not exist: check AZURE_TENANT_ID", c.TenantID)
	case has(700024):
		return "The service account token has expired: check the projected token's expiry and the node's clock"
	case has(7000215) || has(7000222):
		return "The client secret is wrong or expired: check AZURE_CLIENT_SECRET"
	}
	return ""
}
