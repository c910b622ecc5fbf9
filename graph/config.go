package graph

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
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

// Environment variables that name each Config field in error messages.
const (
	EnvCloud   = "LICENSEFIX_GRAPH_CLOUD"
	EnvAPI     = "LICENSEFIX_GRAPH_API"
	EnvURL     = "LICENSEFIX_GRAPH_URL"
	EnvAuth    = "LICENSEFIX_GRAPH_AUTH"
	EnvTimeout = "LICENSEFIX_GRAPH_TIMEOUT"
)

// Defaults applied by New.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultUserAgent = "licensefix/dev"
)

// ConfigError is a Config that New rejects. Env names the setting's
// environment variable ("" for fields that have none, such as Credential),
// so the CLI can report it like any other bad setting.
type ConfigError struct {
	Env string // e.g. LICENSEFIX_GRAPH_URL
	Msg string // complete sentence naming the setting
}

// Error returns Msg prefixed with "graph: ".
func (e *ConfigError) Error() string { return "graph: " + e.Msg }

var clouds = map[Cloud]string{
	CloudGlobal:   "https://graph.microsoft.com",
	CloudUSGov:    "https://graph.microsoft.us",
	CloudUSGovDoD: "https://dod-graph.microsoft.us",
	CloudChina:    "https://microsoftgraph.chinacloudapi.cn",
}

// Root returns the cloud's Graph root URL without a trailing slash, or ""
// for an unknown cloud.
func (c Cloud) Root() string { return clouds[c] }

// Scope returns the app-only token scope for the cloud, its root followed by
// "/.default", or "" for an unknown cloud. Tokens are not interchangeable
// between clouds.
func (c Cloud) Scope() string {
	if r := c.Root(); r != "" {
		return r + "/.default"
	}
	return ""
}

// ParseCloud parses a LICENSEFIX_GRAPH_CLOUD value: global, usgov,
// usgovdod or china (case-insensitive, surrounding blanks ignored).
func ParseCloud(s string) (Cloud, error) {
	c := Cloud(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := clouds[c]; !ok {
		return "", fmt.Errorf("unknown cloud %q (want global, usgov, usgovdod or china)", s)
	}
	return c, nil
}

// ParseAPI parses a LICENSEFIX_GRAPH_API value: beta, or v1 (also written
// v1.0), case-insensitive.
func ParseAPI(s string) (API, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "beta":
		return APIBeta, nil
	case "v1", "v1.0":
		return APIV1, nil
	}
	return "", fmt.Errorf("unknown Graph API %q (want beta or v1)", s)
}

// ParseAuthMode parses a LICENSEFIX_GRAPH_AUTH value: azure or none,
// case-insensitive.
func ParseAuthMode(s string) (AuthMode, error) {
	switch m := AuthMode(strings.ToLower(strings.TrimSpace(s))); m {
	case AuthAzure, AuthNone:
		return m, nil
	}
	return "", fmt.Errorf("unknown auth mode %q (want azure or none)", s)
}

// withDefaults fills in zero fields. API defaults to beta in the global
// cloud and to v1 elsewhere, where the beta action does not exist.
func (cfg Config) withDefaults() Config {
	if cfg.Cloud == "" {
		cfg.Cloud = CloudGlobal
	}
	if cfg.API == "" {
		cfg.API = APIBeta
		if cfg.Cloud != CloudGlobal {
			cfg.API = APIV1
		}
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthAzure
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	return cfg
}

// validate checks cfg (after withDefaults) and returns the parsed root URL.
func (cfg Config) validate() (*url.URL, error) {
	if _, ok := clouds[cfg.Cloud]; !ok {
		return nil, &ConfigError{EnvCloud, fmt.Sprintf("%s=%q is not one of global, usgov, usgovdod, china", EnvCloud, string(cfg.Cloud))}
	}
	switch cfg.API {
	case APIBeta:
		if cfg.Cloud != CloudGlobal {
			return nil, &ConfigError{EnvAPI, fmt.Sprintf("%s=beta is only available in the global cloud (%s=%s); use %s=v1", EnvAPI, EnvCloud, cfg.Cloud, EnvAPI)}
		}
	case APIV1:
	default:
		return nil, &ConfigError{EnvAPI, fmt.Sprintf("%s=%q is not one of beta, v1", EnvAPI, string(cfg.API))}
	}
	if cfg.Timeout < 0 {
		return nil, &ConfigError{EnvTimeout, fmt.Sprintf("%s must be > 0, got %s", EnvTimeout, cfg.Timeout)}
	}
	if strings.ContainsFunc(cfg.UserAgent, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, &ConfigError{"", "UserAgent must not contain control characters"}
	}

	root, err := parseRoot(cfg)
	if err != nil {
		return nil, err
	}
	switch cfg.Auth {
	case AuthAzure:
		if cfg.Credential == nil {
			return nil, &ConfigError{EnvAuth, fmt.Sprintf("%s=azure requires a credential", EnvAuth)}
		}
	case AuthNone:
		if cfg.RootURL == "" || !isLoopback(root.Hostname()) {
			return nil, &ConfigError{EnvAuth, fmt.Sprintf("%s=none requires a loopback %s", EnvAuth, EnvURL)}
		}
	default:
		return nil, &ConfigError{EnvAuth, fmt.Sprintf("%s=%q is not one of azure, none", EnvAuth, string(cfg.Auth))}
	}
	return root, nil
}

// parseRoot parses RootURL, or the cloud's root when it is empty.
func parseRoot(cfg Config) (*url.URL, error) {
	raw := cfg.RootURL
	if raw == "" {
		raw = cfg.Cloud.Root()
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the input, which may hold credentials: say less.
		return nil, &ConfigError{EnvURL, EnvURL + " is not a valid URL"}
	}
	if u.User != nil {
		return nil, &ConfigError{EnvURL, EnvURL + " must not contain user information"}
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "" {
		return nil, &ConfigError{EnvURL, fmt.Sprintf("%s=%q must be an absolute http(s) URL", EnvURL, raw)}
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		// The query could carry a key: do not echo the value.
		return nil, &ConfigError{EnvURL, EnvURL + " must not have a query or fragment"}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, &ConfigError{EnvURL, fmt.Sprintf("%s=%q must use https unless its host is a loopback address", EnvURL, raw)}
	}
	root := &url.URL{Scheme: u.Scheme, Host: u.Host}
	// Keep a path prefix (a reverse proxy, say), without its trailing slash.
	root.Path = strings.TrimRight(u.Path, "/")
	root.RawPath = strings.TrimRight(u.EscapedPath(), "/")
	if root.RawPath == root.Path {
		root.RawPath = ""
	}
	return root, nil
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultTransport returns an *http.Transport tuned for many concurrent
// calls to a single host.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.ForceAttemptHTTP2 = true
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return t
}
