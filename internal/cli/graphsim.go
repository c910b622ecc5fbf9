package cli

import (
	"context"
	"fmt"

	"github.com/licensefix/licensefix/graph/graphsim"
)

func init() {
	register(command{name: "graphsim", summary: "run the Microsoft Graph simulator standalone", run: runGraphsim})
}

func runGraphsim(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("graphsim")
	var listen, scenarioPath string
	s.String(&listen, "listen", "LICENSEFIX_GRAPHSIM_LISTEN", "127.0.0.1:8081", "HTTP address to listen on")
	s.String(&scenarioPath, "scenario", "LICENSEFIX_GRAPHSIM_SCENARIO", "", "scenario JSON file; empty = the built-in demo scenario")
	ls := addLogSettings(s)
	if err := s.Parse(args); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usagef("unexpected arguments: %v", s.Args())
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
	srv, err := graphsim.NewServer(graphsim.Options{Addr: listen})
	if err != nil {
		return fmt.Errorf("start graph simulator: %w", err)
	}
	defer srv.Close()
	srv.LoadScenario(sc)
	fmt.Fprintln(e.Stdout, srv.URL)
	log.Info("graphsim_listening", "url", srv.URL, "scenario", sc.Name)
	<-ctx.Done()
	log.Info("graphsim_stopping", "requests", len(srv.Requests()))
	return nil
}
