package monitoring_test

import (
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promDatasource is how every panel and query variable names its data
// source: the dashboard's datasource variable, so that importing asks for
// a Prometheus data source instead of naming one.
var promDatasource = datasource{Type: "prometheus", UID: "${datasource}"}

func TestDashboardIsImportable(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	assert.Nil(t, d.ID, "no id: Grafana assigns one on import")
	assert.Equal(t, "licensefix", d.UID, "a stable uid, so re-importing replaces it")
	assert.NotEmpty(t, d.Title)
	assert.GreaterOrEqual(t, d.SchemaVersion, 36, "a schema current Grafana reads without migrating datasource references")

	vars := map[string]vari{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	ds, ok := vars["datasource"]
	require.True(t, ok, "a datasource variable")
	assert.Equal(t, "datasource", ds.Type)
	assert.Equal(t, "prometheus", ds.Query)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			require.NotNil(t, v.Datasource, "variable %s", v.Name)
			assert.Equal(t, promDatasource, *v.Datasource, "variable %s", v.Name)
		}
		if v.Name != "datasource" {
			assert.Contains(t, grafanaVars, "$"+v.Name, "variable %s is known to the query tests", v.Name)
		}
	}

	ids := map[int]bool{}
	type rect struct {
		title      string
		x, y, w, h int
	}
	var rects []rect
	for _, p := range d.allPanels() {
		assert.Positive(t, p.ID, "panel %q has an id", p.Title)
		assert.False(t, ids[p.ID], "panel id %d is unique", p.ID)
		ids[p.ID] = true
		assert.NotEmpty(t, p.Title, "panel %d has a title", p.ID)
		g := p.GridPos
		assert.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.Y >= 0 && g.X+g.W <= 24, "panel %q fits the 24-column grid: %+v", p.Title, g)
		for _, r := range rects {
			overlap := g.X < r.x+r.w && r.x < g.X+g.W && g.Y < r.y+r.h && r.y < g.Y+g.H
			assert.False(t, overlap, "panels %q and %q overlap", p.Title, r.title)
		}
		rects = append(rects, rect{p.Title, g.X, g.Y, g.W, g.H})
		if p.Type == "row" {
			assert.Empty(t, p.Targets, "row %q", p.Title)
			continue
		}
		require.NotNil(t, p.Datasource, "panel %q names its data source", p.Title)
		assert.Equal(t, promDatasource, *p.Datasource, "panel %q", p.Title)
		require.NotEmpty(t, p.Targets, "panel %q queries something", p.Title)
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			assert.NotEmpty(t, tg.RefID)
			assert.False(t, refs[tg.RefID], "panel %q: refId %s is unique", p.Title, tg.RefID)
			refs[tg.RefID] = true
			if tg.Datasource != nil {
				assert.Equal(t, promDatasource, *tg.Datasource, "panel %q target %s", p.Title, tg.RefID)
			}
		}
	}
}

// TestDashboardQueriesParse parses every query with Prometheus's parser,
// and checks that each panel and variable filters by the dashboard's job
// and instance variables.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	for _, q := range dashboardQueries(t, loadDashboard(t)) {
		for _, vs := range selectors(t, q.where, q.expr) {
			var job bool
			for _, m := range vs.LabelMatchers {
				if m.Name == "job" {
					job = true
				}
			}
			if q.where != "variable job" {
				assert.True(t, job, "%s: %s filters by $job", q.where, vs)
			}
		}
	}
}

// TestDashboardPanels: the panels an operator looks for exist and query
// what they say.
func TestDashboardPanels(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	queries := map[string][]string{} // panel title -> expressions
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			queries[p.Title] = append(queries[p.Title], expand(t, tg.Expr))
		}
	}
	for _, tc := range []struct {
		title   string
		metrics []string
		fn      string // a function some query of the panel calls
	}{
		{"Throughput by outcome", []string{"licensefix_messages_total"}, "rate"},
		{"Dead letters by reason", []string{"licensefix_messages_total"}, "rate"},
		{"Graph latency", []string{"licensefix_graph_call_duration_seconds_bucket"}, "histogram_quantile"},
		{"Graph calls by status", []string{"licensefix_graph_calls_total"}, "rate"},
		{"Throttling", []string{"licensefix_graph_throttled_total", "licensefix_graph_throttle_wait_seconds_total"}, "rate"},
		{"Pacing rate", []string{"licensefix_graph_rate_limit"}, ""},
		{"Breaker and pause", []string{"licensefix_breaker_open", "licensefix_systemic_pause"}, ""},
		{"Messages in flight", []string{"licensefix_messages_in_flight"}, ""},
		{"Lock renewals and losses", []string{"licensefix_lock_losses_total"}, ""},
		{"Readiness", []string{"licensefix_ready"}, ""},
		{"Service Bus connected", []string{"licensefix_servicebus_connected"}, ""},
		{"Goroutines", []string{"go_goroutines"}, ""},
		{"Memory", []string{"process_resident_memory_bytes"}, ""},
	} {
		exprs, ok := queries[tc.title]
		if !assert.True(t, ok, "a panel %q", tc.title) {
			continue
		}
		used, fns := map[string]bool{}, map[string]bool{}
		for _, e := range exprs {
			for _, vs := range selectors(t, tc.title, e) {
				used[vs.Name] = true
			}
			pe, err := promql.ParseExpr(e)
			require.NoError(t, err)
			parser.Inspect(pe, func(n parser.Node, _ []parser.Node) error {
				if c, ok := n.(*parser.Call); ok {
					fns[c.Func.Name] = true
				}
				return nil
			})
		}
		for _, m := range tc.metrics {
			assert.True(t, used[m], "panel %q queries %s", tc.title, m)
		}
		if tc.fn != "" {
			assert.True(t, fns[tc.fn], "panel %q uses %s()", tc.title, tc.fn)
		}
	}
}
