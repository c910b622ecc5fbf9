// Package monitoring holds no Go code of its own: it is the home of the
// operator's monitoring files and of the tests that hold them to the worker.
//
//   - licensefix-dashboard.json: a Grafana dashboard (import it; it asks for
//     a Prometheus data source).
//   - licensefix-alerts.yml: Prometheus alert rules, a plain rules file;
//     licensefix-alerts.test.yml: promtool unit tests of every alert.
//   - licensefix-prometheusrule.yaml: the same rules as a PrometheusRule for
//     the Prometheus Operator, generated from licensefix-alerts.yml (edit
//     that file, then run go test ./deploy/monitoring/ -run
//     TestPrometheusRuleIsGenerated -update); kustomization.yaml makes it a
//     kustomize resource, which deploy/kubernetes/components/prometheus adds.
//
// The tests check that every metric the dashboard and the rules name is one
// a running worker serves (a real "licensefix run" against the Service Bus
// emulator and the Graph simulator, scraped over HTTP), that every PromQL
// expression parses, that every alert links a heading of docs/runbook.md,
// and, with promtool on PATH (always in CI), that promtool accepts the rules
// and their unit tests pass.
package monitoring
