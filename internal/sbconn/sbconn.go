package sbconn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/licensefix/licensefix/internal/azcred"
)

// Setting names, shared with the CLI.
const (
	EnvConnectionString = "LICENSEFIX_SERVICEBUS_CONNECTION_STRING"
	EnvNamespace        = "LICENSEFIX_SERVICEBUS_NAMESPACE"
)

// TokenScope is the scope azservicebus asks a credential for (the same in
// every cloud), for checking a credential before connecting.
const TokenScope = "https://servicebus.azure.net//.default"

// Options selects how to reach Service Bus.
type Options struct {
	// ConnectionString is a namespace or emulator connection string
	// (LICENSEFIX_SERVICEBUS_CONNECTION_STRING). Secret.
	ConnectionString string
	// Namespace is the fully qualified namespace, e.g.
	// contoso.servicebus.windows.net (LICENSEFIX_SERVICEBUS_NAMESPACE),
	// authenticated with Credential.
	Namespace string
	// Credential is used with Namespace; nil means the credential
	// azcred.Select chooses from the environment (workload identity
	// directly when its variables are set; on Kubernetes without them, an
	// error at once; elsewhere azidentity's default chain).
	Credential azcore.TokenCredential
	// Getenv is the environment azcred reads when Credential is nil; nil
	// means os.Getenv.
	Getenv func(string) string
	// ClientOptions are passed to the SDK (retry settings, application id).
	// Zero RetryOptions fields take DefaultRetryDelay and
	// DefaultMaxRetryDelay instead of the SDK's own defaults.
	ClientOptions *azservicebus.ClientOptions
}

// Error is a bad Service Bus setting.
type Error struct {
	Setting string
	Problem string
}

// Error names the setting and the problem, never its value.
func (e *Error) Error() string { return e.Setting + ": " + e.Problem }

// Validate checks that exactly one way of connecting is given and that it is
// well formed, without echoing secrets.
func (o Options) Validate() error {
	switch {
	case o.ConnectionString != "" && o.Namespace != "":
		return &Error{Setting: EnvNamespace, Problem: "set either " + EnvConnectionString + " or " + EnvNamespace + ", not both"}
	case o.ConnectionString == "" && o.Namespace == "":
		return &Error{Setting: EnvConnectionString, Problem: "one of " + EnvConnectionString + " or " + EnvNamespace + " is required"}
	case o.ConnectionString != "":
		return validateConnectionString(o.ConnectionString)
	default:
		return validateNamespace(o.Namespace)
	}
}

func validateConnectionString(cs string) error {
	var endpoint, keyName, key, sas bool
	for _, part := range strings.Split(cs, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, _, ok := strings.Cut(part, "=")
		if !ok {
			return &Error{Setting: EnvConnectionString, Problem: "malformed: every part must be Key=Value"}
		}
		switch strings.ToLower(k) {
		case "endpoint":
			endpoint = true
		case "sharedaccesskeyname":
			keyName = true
		case "sharedaccesskey":
			key = true
		case "sharedaccesssignature":
			sas = true
		}
	}
	switch {
	case !endpoint:
		return &Error{Setting: EnvConnectionString, Problem: "malformed: Endpoint is missing"}
	case !sas && !(keyName && key):
		return &Error{Setting: EnvConnectionString, Problem: "malformed: needs SharedAccessKeyName and SharedAccessKey, or SharedAccessSignature"}
	}
	return nil
}

func validateNamespace(ns string) error {
	if strings.Contains(ns, "://") || strings.ContainsAny(ns, "/;= ") {
		return &Error{Setting: EnvNamespace, Problem: fmt.Sprintf("%q is not a fully qualified namespace (e.g. contoso.servicebus.windows.net)", ns)}
	}
	host := ns
	if h, _, err := net.SplitHostPort(ns); err == nil {
		host = h
	}
	if !strings.Contains(host, ".") {
		return &Error{Setting: EnvNamespace, Problem: fmt.Sprintf("%q is not a fully qualified namespace (e.g. contoso.servicebus.windows.net)", ns)}
	}
	return nil
}

// The SDK's retry delays for licensefix's clients. The SDK's defaults (4s
// doubling to 120s) suit a caller with no retry loop of its own; licensefix
// has one in every command, and the SDK's first retry after a dropped
// connection is what a network blip costs every operation waiting on it
// (a receive, a peek, a lock renewal), so it retries sooner.
const (
	DefaultRetryDelay    = 500 * time.Millisecond
	DefaultMaxRetryDelay = 30 * time.Second
)

// clientOptions is o.ClientOptions (copied) with the retry defaults.
func (o Options) clientOptions() *azservicebus.ClientOptions {
	var co azservicebus.ClientOptions
	if o.ClientOptions != nil {
		co = *o.ClientOptions
	}
	if co.RetryOptions.RetryDelay == 0 {
		co.RetryOptions.RetryDelay = DefaultRetryDelay
	}
	if co.RetryOptions.MaxRetryDelay == 0 {
		co.RetryOptions.MaxRetryDelay = DefaultMaxRetryDelay
	}
	return &co
}

// NewClient validates o and returns a client. The caller closes it.
func NewClient(o Options) (*azservicebus.Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.ConnectionString != "" {
		c, err := azservicebus.NewClientFromConnectionString(o.ConnectionString, o.clientOptions())
		if err != nil {
			// The SDK's parse errors may quote the endpoint but never the
			// key; still, report a fixed sentence to be safe.
			return nil, &Error{Setting: EnvConnectionString, Problem: "rejected by the Service Bus SDK: " + redact(err.Error(), o.ConnectionString)}
		}
		return c, nil
	}
	cred := o.Credential
	if cred == nil {
		getenv := o.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		var err error
		if cred, _, err = azcred.FromEnvironment(getenv, azcred.Options{}); err != nil {
			return nil, err
		}
	}
	c, err := azservicebus.NewClient(o.Namespace, cred, o.clientOptions())
	if err != nil {
		return nil, &Error{Setting: EnvNamespace, Problem: err.Error()}
	}
	return c, nil
}

// redact removes every secret-looking part of cs from msg.
func redact(msg, cs string) string {
	msg = strings.ReplaceAll(msg, cs, "REDACTED")
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "sharedaccesskey", "sharedaccesssignature":
			msg = strings.ReplaceAll(msg, v, "REDACTED")
		}
	}
	return msg
}

// IsSettingError reports whether err is a bad Service Bus setting.
func IsSettingError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
