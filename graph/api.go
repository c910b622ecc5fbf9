package graph

// Contract of the Microsoft Graph client. The graph helper implements the
// stubs in api_stubs.go in its own files and deletes that file; declarations
// here may be extended but not renamed.

import (
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/licensefix/licensefix/retry"
)

// Cloud names a Microsoft cloud (LICENSEFIX_GRAPH_CLOUD).
type Cloud string

// Clouds.
const (
	CloudGlobal   Cloud = "global"
	CloudUSGov    Cloud = "usgov"
	CloudUSGovDoD Cloud = "usgovdod"
	CloudChina    Cloud = "china"
)

// API selects the reprocess action (LICENSEFIX_GRAPH_API).
type API string

// APIs.
const (
	// APIBeta: POST {root}/beta/users/{id}/cloudLicensing/assignments/reprocessAssignments (global only).
	APIBeta API = "beta"
	// APIV1: POST {root}/v1.0/users/{id}/reprocessLicenseAssignment.
	APIV1 API = "v1"
)

// AuthMode selects how requests are authenticated (LICENSEFIX_GRAPH_AUTH).
type AuthMode string

// Auth modes.
const (
	// AuthAzure: bearer tokens from Config.Credential (azidentity) for the cloud's /.default scope.
	AuthAzure AuthMode = "azure"
	// AuthNone: no Authorization header; allowed only when the root URL is a loopback address.
	AuthNone AuthMode = "none"
)

// Config configures a Client. New validates it and applies defaults.
type Config struct {
	Cloud      Cloud                  // default CloudGlobal
	API        API                    // default APIBeta
	RootURL    string                 // overrides the cloud's root (LICENSEFIX_GRAPH_URL), e.g. http://127.0.0.1:8081
	Auth       AuthMode               // default AuthAzure
	Credential azcore.TokenCredential // required with AuthAzure
	Timeout    time.Duration          // per-attempt timeout, default 30s (LICENSEFIX_GRAPH_TIMEOUT)
	UserAgent  string                 // default "licensefix/dev"
	Transport  http.RoundTripper      // default a tuned *http.Transport
}

// Result describes a successful call.
type Result struct {
	StatusCode      int
	RequestID       string
	ClientRequestID string
	// ThrottleLimitPercentage is x-ms-throttle-limit-percentage when present (0 otherwise).
	ThrottleLimitPercentage float64
	Duration                time.Duration
}

// Error is every failure Reprocess returns: an HTTP error response or a
// transport failure (StatusCode 0, Err set).
type Error struct {
	StatusCode          int
	Code                string // Graph error.code
	Message             string // Graph error.message
	RequestID           string
	ClientRequestID     string
	Date                time.Time
	RetryAfter          time.Duration
	HasRetryAfter       bool
	ThrottleScope       string
	ThrottleInformation string
	// Diagnostic is x-ms-ags-diagnostic, which Microsoft support asks for.
	Diagnostic string
	Class      retry.Class
	Err        error // transport cause, if any
}
