package monitoring_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// The files under test, relative to this package's directory.
const (
	rulesFile          = "licensefix-alerts.yml"
	rulesTestFile      = "licensefix-alerts.test.yml"
	prometheusRuleFile = "licensefix-prometheusrule.yaml"
	dashboardFile      = "licensefix-dashboard.json"
	runbookFile        = "../../docs/runbook.md"
)

// runbookURLPrefix is what every runbook_url starts with: the runbook on
// the project's repository, followed by "#" and a heading's anchor.
const runbookURLPrefix = "https://github.com/licensefix/licensefix/blob/main/docs/runbook.md#"

// promql parses expressions the way Prometheus does.
var promql = parser.NewParser(parser.Options{})

// loadRules parses the rules file with Prometheus's own loader, which
// refuses unknown fields and checks every expression, duration, label and
// annotation template.
func loadRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.LegacyValidation, promql, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Empty(t, errs, "%s", rulesFile)
	require.NotNil(t, groups)
	require.NotEmpty(t, groups.Groups)
	return groups
}

// alerts returns every alerting rule by name.
func alerts(t *testing.T) map[string]rulefmt.Rule {
	t.Helper()
	out := map[string]rulefmt.Rule{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "group %s holds only alerts (a recording rule %q would need its metric served too)", g.Name, r.Record)
			require.NotContains(t, out, r.Alert, "alert %s defined twice", r.Alert)
			out[r.Alert] = r
		}
	}
	return out
}

// dashboard is the part of a Grafana dashboard model the tests read.
type dashboard struct {
	ID            any                   `json:"id"`
	UID           string                `json:"uid"`
	Title         string                `json:"title"`
	SchemaVersion int                   `json:"schemaVersion"`
	Templating    struct{ List []vari } `json:"templating"`
	Panels        []panel               `json:"panels"`
}

type vari struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Query      any         `json:"query"` // a string, or {"query": ...} for Prometheus query variables
	Definition string      `json:"definition"`
	Datasource *datasource `json:"datasource"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(b, &d), "%s is JSON", dashboardFile)
	return d
}

// allPanels flattens rows.
func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// grafanaVars are the values the dashboard's variables take when the
// tests parse its queries: every variable it may use must be listed.
var grafanaVars = map[string]string{
	"$__rate_interval": "5m",
	"$__interval":      "1m",
	"$__range":         "1h",
	"$job":             ".*",
	"$instance":        ".*",
}

// expand replaces Grafana's variables with the values above, longest
// first, and fails on any "$" left.
func expand(t *testing.T, expr string) string {
	t.Helper()
	keys := make([]string, 0, len(grafanaVars))
	for k := range grafanaVars {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		expr = strings.ReplaceAll(expr, k, grafanaVars[k])
	}
	require.NotContains(t, expr, "$", "a Grafana variable the tests do not know: %s", expr)
	return expr
}

// labelValuesRE is Grafana's label_values(selector, label) variable query.
var labelValuesRE = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// dashboardQuery is one PromQL expression of the dashboard and where it is.
type dashboardQuery struct {
	where string
	expr  string // with Grafana variables expanded
}

// dashboardQueries returns every PromQL expression of the dashboard: each
// panel target and the selector of each label_values variable.
func dashboardQueries(t *testing.T, d dashboard) []dashboardQuery {
	t.Helper()
	var out []dashboardQuery
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q target %s has no expr", p.Title, tg.RefID)
			out = append(out, dashboardQuery{where: "panel " + p.Title + " " + tg.RefID, expr: expand(t, tg.Expr)})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, ok := v.Query.(string)
		if m, isMap := v.Query.(map[string]any); isMap {
			q, ok = m["query"].(string)
		}
		require.True(t, ok, "variable %s: a query string", v.Name)
		require.Equal(t, q, v.Definition, "variable %s: definition and query agree", v.Name)
		m := labelValuesRE.FindStringSubmatch(q)
		require.NotNil(t, m, "variable %s: a label_values(selector, label) query: %s", v.Name, q)
		out = append(out, dashboardQuery{where: "variable " + v.Name, expr: expand(t, m[1])})
	}
	require.NotEmpty(t, out)
	return out
}

// selectors returns every vector selector of a PromQL expression with its
// metric name; a selector without a metric name fails.
func selectors(t *testing.T, where, expr string) []*parser.VectorSelector {
	t.Helper()
	e, err := promql.ParseExpr(expr)
	require.NoError(t, err, "%s: %s", where, expr)
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				for _, m := range vs.LabelMatchers {
					if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
						vs.Name = m.Value
					}
				}
			}
			require.NotEmpty(t, vs.Name, "%s: selector %s names no metric", where, vs)
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// namedMetrics returns where each metric name is used, across the rules
// and the dashboard.
func namedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	uses := map[string][]string{}
	for name, r := range alerts(t) {
		for _, vs := range selectors(t, "alert "+name, r.Expr) {
			uses[vs.Name] = append(uses[vs.Name], "alert "+name)
		}
	}
	for _, q := range dashboardQueries(t, loadDashboard(t)) {
		for _, vs := range selectors(t, q.where, q.expr) {
			uses[vs.Name] = append(uses[vs.Name], q.where)
		}
	}
	return uses
}

// repoFile is a path relative to the module root.
func repoFile(elem ...string) string {
	return filepath.Join(append([]string{"..", ".."}, elem...)...)
}
