package monitoring_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite "+prometheusRuleFile+" from "+rulesFile)

// requiredAlerts are the conditions an operator must hear about.
var requiredAlerts = []string{
	"LicensefixDeadLettersGrowing",  // dead letters growing
	"LicensefixBreakerOpen",         // breaker open for minutes
	"LicensefixPermissionPause",     // permission (systemic) pause
	"LicensefixNotReady",            // not ready
	"LicensefixLockLosses",          // lock losses
	"LicensefixSustainedThrottling", // sustained throttling
	"LicensefixNoCompletions",       // no completions while messages arrive
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	as := alerts(t)
	names := make([]string, 0, len(as))
	for n := range as {
		names = append(names, n)
	}
	assert.ElementsMatch(t, requiredAlerts, names)
	for name, r := range as {
		assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], "%s: severity", name)
		for _, a := range []string{"summary", "description", "runbook_url"} {
			assert.NotEmpty(t, r.Annotations[a], "%s: annotation %s", name, a)
		}
		assert.True(t, strings.HasPrefix(r.Annotations["runbook_url"], runbookURLPrefix),
			"%s: runbook_url %q starts with %s", name, r.Annotations["runbook_url"], runbookURLPrefix)
	}
}

// promtoolTests is the part of a promtool unit test file read here.
type promtoolTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestEveryAlertHasUnitTests: each alert has a promtool case where it fires
// and one where it does not (promtool runs them in TestPromtool).
func TestEveryAlertHasUnitTests(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(rulesTestFile)
	require.NoError(t, err)
	var pt promtoolTests
	require.NoError(t, yaml.Unmarshal(b, &pt))
	assert.Equal(t, []string{rulesFile}, pt.RuleFiles)
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range pt.Tests {
		for _, at := range tc.AlertRuleTest {
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname] = true
			} else {
				silent[at.Alertname] = true
			}
		}
	}
	for name := range alerts(t) {
		assert.True(t, fires[name], "%s has a case where it fires", name)
		assert.True(t, silent[name], "%s has a case where it stays silent", name)
	}
}

// generatedHeader starts the PrometheusRule file.
const generatedHeader = `# Code generated from licensefix-alerts.yml by
#   go test ./deploy/monitoring/ -run TestPrometheusRuleIsGenerated -update
# DO NOT EDIT: edit licensefix-alerts.yml and run the command above.
#
# The alert rules of licensefix-alerts.yml as a PrometheusRule for the
# Prometheus Operator (monitoring.coreos.com/v1). The component
# deploy/kubernetes/components/prometheus deploys it next to the worker. If
# your Prometheus selects rules by label (ruleSelector, for example
# release: kube-prometheus-stack), add that label in your overlay.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: licensefix
  labels:
    app.kubernetes.io/name: licensefix
spec:
`

// generatePrometheusRule wraps the rules file's groups, comments included,
// in a PrometheusRule.
func generatePrometheusRule(t *testing.T, rules []byte) []byte {
	t.Helper()
	i := bytes.Index(rules, []byte("\ngroups:\n"))
	require.GreaterOrEqual(t, i, 0, "%s has a top-level groups: key", rulesFile)
	var out bytes.Buffer
	out.WriteString(generatedHeader)
	for _, line := range strings.SplitAfter(string(rules[i+1:]), "\n") {
		if strings.TrimSpace(line) != "" {
			out.WriteString("  ")
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

func TestPrometheusRuleIsGenerated(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	require.NoError(t, err)
	want := generatePrometheusRule(t, rules)
	if *update {
		require.NoError(t, os.WriteFile(prometheusRuleFile, want, 0o644))
	}
	got, err := os.ReadFile(prometheusRuleFile)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got),
		"%s is generated from %s: run go test ./deploy/monitoring/ -run TestPrometheusRuleIsGenerated -update", prometheusRuleFile, rulesFile)

	// And it is a PrometheusRule the Operator accepts, holding the same
	// rules as the rules file.
	pr := decodePrometheusRule(t, got)
	assert.Equal(t, "monitoring.coreos.com/v1", pr.APIVersion)
	assert.Equal(t, "PrometheusRule", pr.Kind)
	assertSameRules(t, pr)
}

// decodePrometheusRule decodes YAML into the Operator's type, refusing
// fields the type does not have.
func decodePrometheusRule(t *testing.T, b []byte) monitoringv1.PrometheusRule {
	t.Helper()
	j, err := yaml.YAMLToJSON(b)
	require.NoError(t, err)
	var pr monitoringv1.PrometheusRule
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&pr))
	return pr
}

// assertSameRules compares a PrometheusRule with the rules file, field by
// field, as Prometheus reads both.
func assertSameRules(t *testing.T, pr monitoringv1.PrometheusRule) {
	t.Helper()
	file := loadRules(t)
	require.Len(t, pr.Spec.Groups, len(file.Groups))
	for i, fg := range file.Groups {
		g := pr.Spec.Groups[i]
		assert.Equal(t, fg.Name, g.Name)
		if g.Interval != nil {
			d, err := model.ParseDuration(string(*g.Interval))
			require.NoError(t, err)
			assert.Equal(t, fg.Interval, d, "group %s interval", g.Name)
		} else {
			assert.Zero(t, fg.Interval, "group %s interval", g.Name)
		}
		require.Len(t, g.Rules, len(fg.Rules), "group %s", g.Name)
		for j, fr := range fg.Rules {
			r := g.Rules[j]
			assert.Equal(t, fr.Alert, r.Alert)
			assert.Equal(t, fr.Record, r.Record)
			assert.Equal(t, fr.Expr, r.Expr.String(), "%s expr", fr.Alert)
			var forDur model.Duration
			if r.For != nil {
				var err error
				forDur, err = model.ParseDuration(string(*r.For))
				require.NoError(t, err)
			}
			assert.Equal(t, fr.For, forDur, "%s for", fr.Alert)
			assert.Equal(t, fr.Labels, r.Labels, "%s labels", fr.Alert)
			assert.Equal(t, fr.Annotations, r.Annotations, "%s annotations", fr.Alert)
		}
	}
}

// promtool returns promtool's path. Without it the test is skipped, except
// in CI (CI=true), where .ci/run installs it and its absence fails.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not on PATH; .ci/run installs it from Debian's prometheus package")
		}
		t.Skip("promtool is not on PATH (CI installs it; see .ci/run)")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
}

// TestPromtool runs the real Prometheus checks: the rules file, its unit
// tests, and every dashboard query as a recording rule (so promtool parses
// them too).
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool(t)
	t.Run("check rules", func(t *testing.T) {
		t.Parallel()
		runPromtool(t, "check", "rules", rulesFile)
	})
	t.Run("test rules", func(t *testing.T) {
		t.Parallel()
		runPromtool(t, "test", "rules", rulesTestFile)
	})
	t.Run("dashboard queries", func(t *testing.T) {
		t.Parallel()
		type rule struct {
			Record string `json:"record"`
			Expr   string `json:"expr"`
		}
		var rs []rule
		for i, q := range dashboardQueries(t, loadDashboard(t)) {
			rs = append(rs, rule{Record: "licensefix_dashboard:query_" + strconv.Itoa(i), Expr: q.expr})
		}
		b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rs}}})
		require.NoError(t, err)
		f := filepath.Join(t.TempDir(), "dashboard-queries.yml")
		require.NoError(t, os.WriteFile(f, b, 0o644))
		runPromtool(t, "check", "rules", f)
	})
}
