package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/internal/envflag"
	"github.com/licensefix/licensefix/internal/sbconn"
	"github.com/licensefix/licensefix/pacing"
	"github.com/licensefix/licensefix/retry"
	"github.com/licensefix/licensefix/worker"
)

func init() {
	register(command{name: "run", summary: "process the queue: reprocess each user's licenses in Microsoft Graph", run: runRun})
}

// runSettings are the run subcommand's settings beyond logging and Service Bus.
type runSettings struct {
	concurrency, breakerThreshold                       int
	shutdownTimeout, graphTimeout                       time.Duration
	retryInitial, retryMax, retryMaxElapsed             time.Duration
	probeInterval, breakerProbeInterval, receiveWait    time.Duration
	httpAddr, graphAPI, graphCloud, graphURL, graphAuth string
	cloudEventTypes                                     []string
	graphMaxRate, graphInitialRate                      float64
	coalesceSkew, coalesceMaxAge                        time.Duration
	coalesceMemory                                      int
	tenantID                                            string
}

// httpShutdownTimeout bounds the health server's graceful stop.
const httpShutdownTimeout = 5 * time.Second

func addRunSettings(s *envflag.Set) *runSettings {
	rs := &runSettings{}
	s.Int(&rs.concurrency, "concurrency", worker.EnvConcurrency, worker.DefaultConcurrency, "most Graph calls in flight at once (the pacing limiter bounds the rate)")
	s.String(&rs.tenantID, "tenant-id", worker.EnvTenantID, "", "Entra tenant (GUID) the worker serves; empty = its Azure credential's tenant. Messages naming another tenantId are dead-lettered InvalidMessage")
	s.Float(&rs.graphMaxRate, "graph-max-rate", worker.EnvGraphMaxRate, 0, "hard cap on Graph calls per second for this replica (0 = none; set it to share the app's quota with other tools)")
	s.Float(&rs.graphInitialRate, "graph-initial-rate", worker.EnvGraphInitialRate, pacing.DefaultInitialRate, "Graph calls per second a new replica starts at before adapting")
	s.Duration(&rs.coalesceSkew, "coalesce-skew", worker.EnvCoalesceSkew, worker.DefaultCoalesceSkew, "clock-skew allowance: a remembered call covers a message only if it started this long after the message was enqueued")
	s.Int(&rs.coalesceMemory, "coalesce-memory", worker.EnvCoalesceMemory, worker.DefaultCoalesceMemory, "users whose last successful call is remembered for coalescing")
	s.Duration(&rs.coalesceMaxAge, "coalesce-max-age", worker.EnvCoalesceMaxAge, worker.DefaultCoalesceMaxAge, "how long a successful call is remembered for coalescing")
	s.Duration(&rs.shutdownTimeout, "shutdown-timeout", worker.EnvShutdownTimeout, worker.DefaultShutdownTimeout, "how long calls in flight may finish on SIGTERM before the rest is abandoned")
	s.String(&rs.httpAddr, "http-addr", "LICENSEFIX_HTTP_ADDR", ":8080", "listen address for /livez, /readyz and /metrics")
	s.String(&rs.graphAPI, "graph-api", graph.EnvAPI, string(graph.APIBeta), "Graph action: beta (cloudLicensing reprocessAssignments, global cloud only) or v1 (reprocessLicenseAssignment)")
	s.String(&rs.graphCloud, "graph-cloud", graph.EnvCloud, string(graph.CloudGlobal), "Microsoft cloud: global, usgov, usgovdod or china")
	s.String(&rs.graphURL, "graph-url", graph.EnvURL, "", "override the cloud's Graph root URL (e.g. a simulator at http://127.0.0.1:8081)")
	s.String(&rs.graphAuth, "graph-auth", graph.EnvAuth, string(graph.AuthAzure), "azure (azidentity token for the cloud's /.default scope) or none (loopback URL only)")
	s.Duration(&rs.graphTimeout, "graph-timeout", graph.EnvTimeout, graph.DefaultTimeout, "timeout of one Graph call")
	s.Duration(&rs.retryInitial, "retry-initial-interval", worker.EnvRetryInitialInterval, retry.DefaultInitialInterval, "first backoff ceiling after a transient failure")
	s.Duration(&rs.retryMax, "retry-max-interval", worker.EnvRetryMaxInterval, retry.DefaultMaxInterval, "largest backoff ceiling")
	s.Duration(&rs.retryMaxElapsed, "max-retry-duration", worker.EnvMaxRetryDuration, retry.DefaultMaxElapsed, "retry budget per message (paused time excluded) before RetriesExhausted")
	s.List(&rs.cloudEventTypes, "cloudevent-types", "LICENSEFIX_CLOUDEVENT_TYPES", nil, "comma-separated allow-list of CloudEvent types (empty: any)")
	s.Int(&rs.breakerThreshold, "breaker-threshold", worker.EnvBreakerThreshold, worker.DefaultBreakerThreshold, "distinct messages failing transiently in a row that open the outage breaker")
	s.Duration(&rs.breakerProbeInterval, "breaker-probe-interval", worker.EnvBreakerProbeInterval, worker.DefaultBreakerProbeInterval, "least time between probe calls while the outage breaker is open")
	s.Duration(&rs.probeInterval, "probe-interval", worker.EnvProbeInterval, worker.DefaultProbeInterval, "least time between probe calls while paused for a missing permission")
	s.Duration(&rs.receiveWait, "receive-wait", worker.EnvReceiveWait, worker.DefaultReceiveWait, "longest single wait for messages before receiving again")
	return rs
}

// workerConfig validates the settings and builds the worker's Config.
func (rs *runSettings) workerConfig(s *envflag.Set, api graph.API) (worker.Config, error) {
	cfg := worker.Config{
		Concurrency:          rs.concurrency,
		ShutdownTimeout:      rs.shutdownTimeout,
		Retry:                retry.Policy{InitialInterval: rs.retryInitial, MaxInterval: rs.retryMax, MaxElapsed: rs.retryMaxElapsed, Multiplier: retry.DefaultMultiplier},
		BreakerThreshold:     rs.breakerThreshold,
		BreakerProbeInterval: rs.breakerProbeInterval,
		ProbeInterval:        rs.probeInterval,
		GraphAPI:             api,
		CloudEventTypes:      rs.cloudEventTypes,
		ReceiveWait:          rs.receiveWait,
		Pacing:               pacing.Config{MaxRate: rs.graphMaxRate, InitialRate: rs.graphInitialRate},
		CoalesceSkew:         rs.coalesceSkew,
		CoalesceMemory:       rs.coalesceMemory,
		CoalesceMaxAge:       rs.coalesceMaxAge,
	}
	if rs.tenantID != "" {
		if _, err := uuid.Parse(rs.tenantID); err != nil || len(rs.tenantID) != 36 {
			return cfg, s.Invalid(worker.EnvTenantID, "%q is not a tenant id (a GUID)", rs.tenantID)
		}
		cfg.TenantID = rs.tenantID
	}
	if rs.graphInitialRate <= 0 {
		return cfg, s.Invalid(worker.EnvGraphInitialRate, "must be > 0, got %g", rs.graphInitialRate)
	}
	if rs.coalesceSkew < 0 {
		return cfg, s.Invalid(worker.EnvCoalesceSkew, "must be >= 0, got %s", rs.coalesceSkew)
	}
	// Zero is not "use the default" on the command line: reject it.
	for env, v := range map[string]time.Duration{
		worker.EnvShutdownTimeout: rs.shutdownTimeout, worker.EnvRetryInitialInterval: rs.retryInitial,
		worker.EnvRetryMaxInterval: rs.retryMax, worker.EnvMaxRetryDuration: rs.retryMaxElapsed,
		worker.EnvBreakerProbeInterval: rs.breakerProbeInterval, worker.EnvProbeInterval: rs.probeInterval,
		worker.EnvReceiveWait: rs.receiveWait, graph.EnvTimeout: rs.graphTimeout, worker.EnvCoalesceMaxAge: rs.coalesceMaxAge,
	} {
		if v <= 0 {
			return cfg, s.Invalid(env, "must be > 0, got %s", v)
		}
	}
	for env, v := range map[string]int{worker.EnvConcurrency: rs.concurrency, worker.EnvBreakerThreshold: rs.breakerThreshold, worker.EnvCoalesceMemory: rs.coalesceMemory} {
		if v <= 0 {
			return cfg, s.Invalid(env, "must be >= 1, got %d", v)
		}
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		var ce *worker.ConfigError
		if errors.As(err, &ce) {
			return cfg, s.Invalid(ce.Setting, "%s", ce.Problem)
		}
		return cfg, err
	}
	return cfg, nil
}

// graphConfig validates the Graph settings.
func (rs *runSettings) graphConfig(s *envflag.Set, version string) (graph.Config, error) {
	var gc graph.Config
	c, err := graph.ParseCloud(rs.graphCloud)
	if err != nil {
		return gc, s.Invalid(graph.EnvCloud, "%v", err)
	}
	api, err := graph.ParseAPI(rs.graphAPI)
	if err != nil {
		return gc, s.Invalid(graph.EnvAPI, "%v", err)
	}
	auth, err := graph.ParseAuthMode(rs.graphAuth)
	if err != nil {
		return gc, s.Invalid(graph.EnvAuth, "%v", err)
	}
	gc = graph.Config{Cloud: c, API: api, RootURL: strings.TrimSpace(rs.graphURL), Auth: auth, Timeout: rs.graphTimeout, UserAgent: "licensefix/" + orDev(version)}
	return gc, nil
}

// newGraphClient builds the Graph client, turning its config errors into
// setting errors.
func newGraphClient(s *envflag.Set, gc graph.Config) (*graph.Client, error) {
	client, err := graph.New(gc)
	if err != nil {
		var ce *graph.ConfigError
		if errors.As(err, &ce) && ce.Env != "" {
			return nil, s.Invalid(ce.Env, "%s", ce.Msg)
		}
		return nil, err
	}
	return client, nil
}

func runRun(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("run")
	ls := addLogSettings(s)
	sb := addServiceBusSettings(s, roleReceive)
	rs := addRunSettings(s)
	if err := s.Parse(args); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usagef("run takes no arguments, got %q", s.Args())
	}
	logger, err := ls.logger(s, e.Stderr)
	if err != nil {
		return err
	}
	sbOpts, err := sb.options(s)
	if err != nil {
		return err
	}
	gc, err := rs.graphConfig(s, e.Version)
	if err != nil {
		return err
	}
	cfg, err := rs.workerConfig(s, gc.API)
	if err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(rs.httpAddr); err != nil {
		return s.Invalid("LICENSEFIX_HTTP_ADDR", "%q is not host:port", rs.httpAddr)
	}
	// Check the Graph settings with a placeholder credential first, so a
	// bad setting exits 2 before any credential or connection exists.
	probe := gc
	if probe.Auth == graph.AuthAzure {
		probe.Credential = placeholderCredential{}
	}
	if _, err := newGraphClient(s, probe); err != nil {
		return err
	}
	// One credential for Service Bus and Graph, chosen from the environment
	// and checked now, so that a misconfigured identity fails start-up.
	var scopes []string
	if sbOpts.Namespace != "" {
		scopes = append(scopes, sbconn.TokenScope)
	}
	if gc.Auth == graph.AuthAzure {
		scopes = append(scopes, gc.Cloud.Scope())
	}
	if len(scopes) > 0 {
		cred, choice, err := azureCredential(ctx, logger, e.Getenv, gc.Cloud, scopes)
		if err != nil {
			return err
		}
		if cfg.TenantID == "" {
			cfg.TenantID = choice.TenantID
		}
		sbOpts.Credential = cred
		if gc.Auth == graph.AuthAzure {
			gc.Credential = cred
		}
	}
	gclient, err := newGraphClient(s, gc)
	if err != nil {
		return err
	}
	if cfg.TenantID == "" {
		logger.WarnContext(ctx, "tenant unknown: messages naming a tenantId are not checked against it", slog.String("setting", worker.EnvTenantID))
	}
	return serve(ctx, logger, sbOpts, sb.entity, rs.httpAddr, cfg, gclient)
}

// placeholderCredential stands in for the real credential while settings
// are validated; it is never asked for a token.
type placeholderCredential struct{}

func (placeholderCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("placeholder credential")
}

// serve connects, starts the health server and runs the worker until ctx ends.
func serve(ctx context.Context, logger *slog.Logger, sbOpts sbconn.Options, en entity, httpAddr string, cfg worker.Config, gclient *graph.Client) error {
	client, err := sbconn.NewClient(sbOpts)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
		defer cancel()
		_ = client.Close(cctx)
	}()
	recv, err := en.newReceiver(client, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock})
	if err != nil {
		return fmt.Errorf("service bus receiver on %s: %w", en, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
		defer cancel()
		_ = recv.Close(cctx)
	}()
	w, err := worker.New(cfg, worker.Deps{Receiver: recv, Graph: gclient, Logger: logger, Diagnose: sbOpts.Diagnose})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("http listen on %s: %w", httpAddr, err)
	}
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("http server listening", append([]any{slog.String("http_addr", ln.Addr().String())}, en.logAttrs()...)...)

	runErr := w.Run(ctx)

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("http server failed", slog.String("error", err.Error()))
	}
	if runErr != nil {
		return &exitError{code: ExitFailure, err: fmt.Errorf("%s: %w", en, runErr)}
	}
	return nil
}
