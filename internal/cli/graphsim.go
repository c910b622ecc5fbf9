package cli

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/envflag"
)

func init() {
	register(command{name: "graphsim", summary: "run the Microsoft Graph simulator standalone", run: runGraphsim})
}

func runGraphsim(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("graphsim")
	var listen, scenarioPath, steps string
	var rate, burst float64
	var latency time.Duration
	s.String(&listen, "listen", "LICENSEFIX_GRAPHSIM_LISTEN", "127.0.0.1:8081", "HTTP address to listen on")
	s.String(&scenarioPath, "scenario", "LICENSEFIX_GRAPHSIM_SCENARIO", "", "scenario JSON file; empty = the built-in demo scenario")
	s.Float(&rate, "quota-rate", "LICENSEFIX_GRAPHSIM_QUOTA_RATE", 0, "tenant-wide write quota in calls per second (throttled calls are charged too); 0 = the scenario's quota, if any")
	s.Float(&burst, "quota-burst", "LICENSEFIX_GRAPHSIM_QUOTA_BURST", 0, "quota bucket capacity in calls, at least 1; 0 = one second's worth of --quota-rate")
	s.String(&steps, "quota-steps", "LICENSEFIX_GRAPHSIM_QUOTA_STEPS", "", `quota rate changes as AT=RATE pairs counted from start, e.g. "30s=20,60s=40"`)
	s.Duration(&latency, "latency", "LICENSEFIX_GRAPHSIM_LATENCY", 0, "delay added to every answer; 0 = the scenario's latency")
	ls := addLogSettings(s)
	if err := s.Parse(args); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usagef("unexpected arguments: %v", s.Args())
	}
	quota, err := graphsimQuota(s, rate, burst, steps)
	if err != nil {
		return err
	}
	if latency < 0 {
		return s.Invalid("LICENSEFIX_GRAPHSIM_LATENCY", "%v must not be negative", latency)
	}
	log, err := ls.logger(s, e.Stderr)
	if err != nil {
		return err
	}
	sc := graphsim.DemoScenario()
	if scenarioPath != "" {
		if sc, err = graphsim.LoadScenarioFile(scenarioPath); err != nil {
			return s.Invalid("LICENSEFIX_GRAPHSIM_SCENARIO", "%v", err)
		}
	}
	if quota != nil {
		sc.Quota = quota
	}
	if latency > 0 {
		sc.Latency = latency
	}
	srv, err := graphsim.NewServer(graphsim.Options{Addr: listen})
	if err != nil {
		return fmt.Errorf("start graph simulator: %w", err)
	}
	defer srv.Close()
	srv.LoadScenario(sc)
	fmt.Fprintln(e.Stdout, srv.URL)
	st := srv.QuotaStats()
	log.Info("graphsim_listening", "url", srv.URL, "scenario", sc.Name,
		"quota_rate", st.Rate, "quota_burst", st.Burst, "control_url", srv.URL+graphsim.ControlQuotaPath)
	<-ctx.Done()
	st = srv.QuotaStats()
	log.Info("graphsim_stopping", "requests", len(srv.Requests()),
		"quota_calls", st.Calls, "quota_throttled", st.Throttled, "succeeded", st.Succeeded, "users_succeeded", st.UsersSucceeded)
	return nil
}

// graphsimQuota checks the quota settings one by one, so that the error
// names the setting at fault, and returns the quota they describe (nil when
// --quota-rate is 0: the scenario's quota stays).
func graphsimQuota(s *envflag.Set, rate, burst float64, steps string) (*graphsim.Quota, error) {
	const rateEnv, burstEnv, stepsEnv = "LICENSEFIX_GRAPHSIM_QUOTA_RATE", "LICENSEFIX_GRAPHSIM_QUOTA_BURST", "LICENSEFIX_GRAPHSIM_QUOTA_STEPS"
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0 {
		return nil, s.Invalid(rateEnv, "%v must be a number >= 0", rate)
	}
	if err := (graphsim.Quota{Rate: 1, Burst: burst}).Validate(); err != nil {
		return nil, s.Invalid(burstEnv, "%v", err)
	}
	st, err := graphsim.ParseQuotaSteps(steps)
	if err != nil {
		return nil, s.Invalid(stepsEnv, "%v", err)
	}
	if err := (graphsim.Quota{Rate: 1, Steps: st}).Validate(); err != nil {
		return nil, s.Invalid(stepsEnv, "%v", err)
	}
	if rate == 0 {
		if burst != 0 || len(st) > 0 {
			return nil, s.Invalid(rateEnv, "must be set when --quota-burst or --quota-steps is")
		}
		return nil, nil
	}
	return &graphsim.Quota{Rate: rate, Burst: burst, Steps: st}, nil
}
