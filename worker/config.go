package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/pacing"
	"github.com/licensefix/licensefix/retry"
)

// Setting names of the Config fields, used in ConfigError.
const (
	EnvConcurrency          = "LICENSEFIX_CONCURRENCY"
	EnvShutdownTimeout      = "LICENSEFIX_SHUTDOWN_TIMEOUT"
	EnvRetryInitialInterval = "LICENSEFIX_RETRY_INITIAL_INTERVAL"
	EnvRetryMaxInterval     = "LICENSEFIX_RETRY_MAX_INTERVAL"
	EnvMaxRetryDuration     = "LICENSEFIX_MAX_RETRY_DURATION"
	EnvBreakerThreshold     = "LICENSEFIX_BREAKER_THRESHOLD"
	EnvBreakerProbeInterval = "LICENSEFIX_BREAKER_PROBE_INTERVAL"
	EnvProbeInterval        = "LICENSEFIX_PROBE_INTERVAL"
	EnvReceiveWait          = "LICENSEFIX_RECEIVE_WAIT"
	EnvGraphAPI             = graph.EnvAPI
	EnvGraphMaxRate         = "LICENSEFIX_GRAPH_MAX_RATE"
	EnvGraphInitialRate     = "LICENSEFIX_GRAPH_INITIAL_RATE"
	EnvCoalesceSkew         = "LICENSEFIX_COALESCE_SKEW"
	EnvTenantID             = "LICENSEFIX_TENANT_ID"
	EnvCoalesceMemory       = "LICENSEFIX_COALESCE_MEMORY"
	EnvCoalesceMaxAge       = "LICENSEFIX_COALESCE_MAX_AGE"
)

// Defaults applied by [Config.WithDefaults].
const (
	DefaultConcurrency          = 16
	DefaultShutdownTimeout      = 25 * time.Second
	DefaultBreakerThreshold     = 5
	DefaultBreakerProbeInterval = 5 * time.Second
	DefaultProbeInterval        = 30 * time.Second
	DefaultReceiveWait          = 10 * time.Second
	DefaultReceiveRetryInterval = time.Second
	DefaultSettleTimeout        = 30 * time.Second
	DefaultSettleStallTimeout   = time.Second
	DefaultCoalesceSkew         = time.Second
	DefaultPacingLogInterval    = 10 * time.Second
	DefaultCoalesceMemory       = 50000
	DefaultCoalesceMaxAge       = time.Hour
	// maxReceiveRetryInterval caps the backoff after Service Bus errors.
	maxReceiveRetryInterval = 30 * time.Second
)

// Config tunes a Worker. Zero fields take the default named in their
// comment; [New] calls WithDefaults and Validate.
type Config struct {
	// Concurrency is the most Graph calls in flight at once
	// (LICENSEFIX_CONCURRENCY, default 16): it hides Graph's latency, while
	// the pacing limiter bounds the rate. The worker holds at most as many
	// messages as it can start calling for within half the lock duration at
	// the limiter's current rate.
	Concurrency int
	// Pacing tunes the adaptive rate limiter every Graph call passes (see
	// package pacing). Its MaxRate is LICENSEFIX_GRAPH_MAX_RATE (default 0:
	// no cap; set it to share one app's quota with other tools) and its
	// InitialRate LICENSEFIX_GRAPH_INITIAL_RATE (default 10 calls/s, where a
	// new replica starts).
	Pacing pacing.Config
	// CoalesceSkew is the clock-skew allowance between Service Bus's
	// EnqueuedTime and this host (LICENSEFIX_COALESCE_SKEW, default 1s): a
	// remembered or in-flight call covers a message only if it started at
	// least this long after the message was enqueued.
	CoalesceSkew time.Duration
	// CoalesceMemory is how many users' last successful call are remembered
	// (LICENSEFIX_COALESCE_MEMORY, default 50000; least recently used out
	// first; about 150 bytes each).
	CoalesceMemory int
	// PacingLogInterval is how often the worker logs a "graph pacing" line
	// (the limiter's rate and phase, calls throttled since the last line)
	// while the rate moves or calls are throttled (default 10s).
	PacingLogInterval time.Duration
	// CoalesceMaxAge is how long a successful call is remembered
	// (LICENSEFIX_COALESCE_MAX_AGE, default 1h).
	CoalesceMaxAge time.Duration
	// ShutdownTimeout bounds a graceful stop (LICENSEFIX_SHUTDOWN_TIMEOUT,
	// default 25s): calls in flight may finish within it, then everything
	// still held is abandoned.
	ShutdownTimeout time.Duration
	// Retry is the backoff policy for transient failures
	// (LICENSEFIX_RETRY_INITIAL_INTERVAL 1s, LICENSEFIX_RETRY_MAX_INTERVAL
	// 60s, LICENSEFIX_MAX_RETRY_DURATION 10m, multiplier 2). MaxElapsed is
	// the per-message budget of active (unpaused) time.
	Retry retry.Policy
	// BreakerThreshold is how many distinct messages must fail transiently
	// in a row, with nothing succeeding, before the outage breaker opens
	// (LICENSEFIX_BREAKER_THRESHOLD, default 5).
	BreakerThreshold int
	// BreakerProbeInterval is the least time between probe calls while the
	// outage breaker is open (LICENSEFIX_BREAKER_PROBE_INTERVAL, default 5s).
	BreakerProbeInterval time.Duration
	// ProbeInterval is the least time between probe calls while paused for a
	// systemic failure such as a missing permission
	// (LICENSEFIX_PROBE_INTERVAL, default 30s).
	ProbeInterval time.Duration
	// GraphAPI is the Graph action in use (LICENSEFIX_GRAPH_API, default
	// beta); it decides which permission a 403 reports as missing.
	GraphAPI graph.API
	// TenantID is the Entra tenant the worker reprocesses users in
	// (LICENSEFIX_TENANT_ID, else the tenant of its Azure credential; empty:
	// unknown). A message whose tenantId names another tenant is
	// dead-lettered InvalidMessage with zero Graph calls; a message without
	// tenantId means this tenant.
	TenantID string
	// CloudEventTypes, when non-empty, is the allow-list of CloudEvent types
	// (LICENSEFIX_CLOUDEVENT_TYPES, default empty: any type).
	CloudEventTypes []string
	// ReceiveWait is the longest a single receive call waits for messages
	// before asking again (LICENSEFIX_RECEIVE_WAIT, default 10s). It bounds
	// how long a broken connection can go unnoticed by /readyz.
	ReceiveWait time.Duration
	// ReceiveRetryInterval is the first pause after a Service Bus receive
	// error (default 1s), doubled on each further error up to 30s.
	ReceiveRetryInterval time.Duration
	// SettleTimeout bounds one settlement call (default 30s).
	SettleTimeout time.Duration
	// SettleStallTimeout is how long a settlement may take before the worker
	// decides that the link the message arrived on is gone (default 1s; a
	// healthy settlement takes milliseconds, while azservicebus retries a
	// settlement on a dead connection only after at least 3.2s). The
	// settlement is then stopped, as soon as the connection was seen lost
	// since the message was received, or else once a peek on the same
	// receiver (within the same bound) has shown the connection either dead
	// or healthy (either way the stuck settlement's link is not the live
	// one), and made again by lock token through $management; only if that
	// fails too is the message counted as lock lost.
	SettleStallTimeout time.Duration
	// ServiceBusProbeInterval is how often a peek through the $management
	// link checks that Service Bus answers (default 5s; every second while
	// it does not).
	ServiceBusProbeInterval time.Duration
	// ServiceBusProbeTimeout bounds one probe (default 5s): a connection that
	// accepts bytes but never answers is unreachable after it. /readyz turns
	// 503 at most ServiceBusProbeInterval + ServiceBusProbeTimeout after
	// Service Bus stops answering, and 200 within about
	// ServiceBusProbeTimeout + 1s of its return.
	ServiceBusProbeTimeout time.Duration
	// LivenessGrace is how long past its own bound a step of the worker's
	// loops may run before /livez fails (default 30s). The bound of a
	// receive is ReceiveWait, of a probe ServiceBusProbeTimeout, of a
	// settlement SettleTimeout, of a wait for room or a receive retry pause
	// its length (at most 1s and 30s).
	LivenessGrace time.Duration
}

// ConfigError is a Config that [New] rejects. Setting is the LICENSEFIX_*
// variable of the field at fault.
type ConfigError struct {
	Setting string
	Problem string
}

// Error names the setting and the problem.
func (e *ConfigError) Error() string { return "worker: " + e.Setting + ": " + e.Problem }

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	c.Retry = c.Retry.WithDefaults()
	if c.BreakerThreshold == 0 {
		c.BreakerThreshold = DefaultBreakerThreshold
	}
	if c.BreakerProbeInterval == 0 {
		c.BreakerProbeInterval = DefaultBreakerProbeInterval
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.GraphAPI == "" {
		c.GraphAPI = graph.APIBeta
	}
	if c.ReceiveWait == 0 {
		c.ReceiveWait = DefaultReceiveWait
	}
	if c.ReceiveRetryInterval == 0 {
		c.ReceiveRetryInterval = DefaultReceiveRetryInterval
	}
	if c.SettleTimeout == 0 {
		c.SettleTimeout = DefaultSettleTimeout
	}
	if c.SettleStallTimeout == 0 {
		c.SettleStallTimeout = DefaultSettleStallTimeout
	}
	if c.ServiceBusProbeInterval == 0 {
		c.ServiceBusProbeInterval = DefaultServiceBusProbeInterval
	}
	if c.ServiceBusProbeTimeout == 0 {
		c.ServiceBusProbeTimeout = DefaultServiceBusProbeTimeout
	}
	if c.LivenessGrace == 0 {
		c.LivenessGrace = DefaultLivenessGrace
	}
	c.Pacing = c.Pacing.WithDefaults()
	if c.PacingLogInterval == 0 {
		c.PacingLogInterval = DefaultPacingLogInterval
	}
	if c.CoalesceSkew == 0 {
		c.CoalesceSkew = DefaultCoalesceSkew
	}
	if c.CoalesceMemory == 0 {
		c.CoalesceMemory = DefaultCoalesceMemory
	}
	if c.CoalesceMaxAge == 0 {
		c.CoalesceMaxAge = DefaultCoalesceMaxAge
	}
	return c
}

// maxConcurrency is the SDK's credit limit per ReceiveMessages call.
const maxConcurrency = 5000

// Validate reports the first invalid field as a *ConfigError naming its
// setting.
func (c Config) Validate() error {
	bad := func(setting, format string, args ...any) error {
		return &ConfigError{Setting: setting, Problem: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > maxConcurrency:
		return bad(EnvConcurrency, "must be between 1 and %d, got %d", maxConcurrency, c.Concurrency)
	case c.ShutdownTimeout <= 0:
		return bad(EnvShutdownTimeout, "must be > 0, got %s", c.ShutdownTimeout)
	case c.Retry.InitialInterval <= 0:
		return bad(EnvRetryInitialInterval, "must be > 0, got %s", c.Retry.InitialInterval)
	case c.Retry.MaxInterval < c.Retry.InitialInterval:
		return bad(EnvRetryMaxInterval, "must be >= %s (%s), got %s", EnvRetryInitialInterval, c.Retry.InitialInterval, c.Retry.MaxInterval)
	case c.Retry.MaxElapsed <= 0:
		return bad(EnvMaxRetryDuration, "must be > 0, got %s", c.Retry.MaxElapsed)
	case c.BreakerThreshold < 1:
		return bad(EnvBreakerThreshold, "must be >= 1, got %d", c.BreakerThreshold)
	case c.BreakerProbeInterval <= 0:
		return bad(EnvBreakerProbeInterval, "must be > 0, got %s", c.BreakerProbeInterval)
	case c.ProbeInterval <= 0:
		return bad(EnvProbeInterval, "must be > 0, got %s", c.ProbeInterval)
	case c.GraphAPI != graph.APIBeta && c.GraphAPI != graph.APIV1:
		return bad(EnvGraphAPI, "must be beta or v1, got %q", string(c.GraphAPI))
	case c.ReceiveWait <= 0:
		return bad(EnvReceiveWait, "must be > 0, got %s", c.ReceiveWait)
	case c.ReceiveRetryInterval <= 0:
		return bad("ReceiveRetryInterval", "must be > 0, got %s", c.ReceiveRetryInterval)
	case c.SettleTimeout <= 0:
		return bad("SettleTimeout", "must be > 0, got %s", c.SettleTimeout)
	case c.SettleStallTimeout <= 0:
		return bad("SettleStallTimeout", "must be > 0, got %s", c.SettleStallTimeout)
	case c.ServiceBusProbeInterval <= 0:
		return bad("ServiceBusProbeInterval", "must be > 0, got %s", c.ServiceBusProbeInterval)
	case c.ServiceBusProbeTimeout <= 0:
		return bad("ServiceBusProbeTimeout", "must be > 0, got %s", c.ServiceBusProbeTimeout)
	case c.LivenessGrace <= 0:
		return bad("LivenessGrace", "must be > 0, got %s", c.LivenessGrace)
	}
	switch {
	case c.CoalesceSkew < 0:
		return bad(EnvCoalesceSkew, "must be >= 0, got %s", c.CoalesceSkew)
	case c.CoalesceMemory < 1:
		return bad(EnvCoalesceMemory, "must be >= 1, got %d", c.CoalesceMemory)
	case c.PacingLogInterval <= 0:
		return bad("PacingLogInterval", "must be > 0, got %s", c.PacingLogInterval)
	case c.CoalesceMaxAge <= 0:
		return bad(EnvCoalesceMaxAge, "must be > 0, got %s", c.CoalesceMaxAge)
	}
	if err := c.Retry.Validate(); err != nil {
		return bad(EnvRetryInitialInterval, "%v", err)
	}
	if err := c.Pacing.Validate(); err != nil {
		var pe *pacing.ConfigError
		if errors.As(err, &pe) {
			switch pe.Field {
			case "MaxRate":
				return bad(EnvGraphMaxRate, "%s", pe.Problem)
			case "InitialRate":
				return bad(EnvGraphInitialRate, "%s (%g calls/s)", pe.Problem, c.Pacing.MinRate)
			}
			return bad("Pacing."+pe.Field, "%s", pe.Problem)
		}
		return bad("Pacing", "%v", err)
	}
	return nil
}

// missingPermission names the least-privileged application permission the
// configured Graph action needs.
func missingPermission(api graph.API) string {
	if api == graph.APIV1 {
		return "User.ReadWrite.All"
	}
	return "CloudLicensing.AssignLicenses.Organization"
}
