package monitoring_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/cli"
	"github.com/licensefix/licensefix/internal/testutil"
	"github.com/licensefix/licensefix/sbemu"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// targetLabels are added by the scraper, not served by the worker.
var targetLabels = map[string]bool{
	"job": true, "instance": true, "namespace": true, "pod": true,
	"service": true, "container": true, "endpoint": true,
}

// served is what one scrape of the worker's /metrics holds.
type served struct {
	families map[string]*dto.MetricFamily
	series   map[string]*dto.MetricFamily // series name (x_bucket, x_sum, ...) -> its family
}

func newServed(fams map[string]*dto.MetricFamily) *served {
	s := &served{families: fams, series: map[string]*dto.MetricFamily{}}
	for name, f := range fams {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				s.series[name+suffix] = f
			}
		case dto.MetricType_SUMMARY:
			for _, suffix := range []string{"", "_sum", "_count"} {
				s.series[name+suffix] = f
			}
		default:
			s.series[name] = f
		}
	}
	return s
}

// labelNames returns the label names any series of f carries.
func labelNames(f *dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			out[l.GetName()] = true
		}
	}
	if f.GetType() == dto.MetricType_HISTOGRAM {
		out["le"] = true
	}
	return out
}

// counterValue sums the samples of a counter family whose labels include
// want.
func (s *served) counterValue(name string, want map[string]string) float64 {
	var sum float64
	for _, m := range s.families[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if have[k] != v {
				match = false
			}
		}
		if match {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// syncBuffer collects the command's output from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func scrape(url string) (*served, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	return newServed(fams), nil
}

// scrapeRunningWorker runs "licensefix run" in-process against the Service
// Bus emulator and the Graph simulator, makes it complete a message, wait
// out a 429 and dead-letter a malformed message (so that labelled counters
// have series), and returns what its /metrics serves.
func scrapeRunningWorker(t *testing.T) *served {
	t.Helper()
	sb, err := sbemu.NewServer(&sbemu.Options{TB: t})
	require.NoError(t, err)
	gs, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })
	gs.Script("throttled@contoso.com", graphsim.Throttled("1"))

	httpAddr := testutil.FreeAddr(t)
	env := map[string]string{
		"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": sb.ConnectionString(),
		"LICENSEFIX_GRAPH_URL":                    gs.URL,
		"LICENSEFIX_GRAPH_AUTH":                   "none",
		"LICENSEFIX_HTTP_ADDR":                    httpAddr,
		"LICENSEFIX_LOG_FORMAT":                   "json",
		"LICENSEFIX_RECEIVE_WAIT":                 "1s",
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, &cli.Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: out, Stderr: out}, []string{"run"})
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, cli.ExitOK, code, "licensefix run exits 0 on stop:\n%s", out.String())
		case <-time.After(time.Minute):
			t.Errorf("licensefix run did not stop within a minute:\n%s", out.String())
		}
	}
	t.Cleanup(stop)

	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	require.NoError(t, err)
	sendCtx, sendCancel := context.WithTimeout(context.Background(), time.Minute)
	defer sendCancel()
	defer func() { _ = client.Close(sendCtx) }()
	sender, err := client.NewSender(sbemu.DefaultQueueName, nil)
	require.NoError(t, err)
	for _, body := range []string{`{"userId":"adele@contoso.com"}`, `{"userId":"throttled@contoso.com"}`, `not json`} {
		require.NoError(t, sender.SendMessage(sendCtx, &azservicebus.Message{Body: []byte(body)}, nil))
	}

	url := "http://" + httpAddr + "/metrics"
	var last *served
	var lastErr error
	ok := assert.Eventually(t, func() bool {
		last, lastErr = scrape(url)
		if lastErr != nil {
			return false
		}
		return last.counterValue("licensefix_messages_total", map[string]string{"outcome": "completed"}) >= 2 &&
			last.counterValue("licensefix_messages_total", map[string]string{"outcome": "dead_lettered"}) >= 1
	}, time.Minute, 100*time.Millisecond)
	if !ok {
		t.Fatalf("the worker did not complete 2 and dead-letter 1 message (last scrape error %v); output:\n%s", lastErr, out.String())
	}
	assert.Equal(t, 2, gs.Calls("throttled@contoso.com"), "the throttled user was called twice: a 429, then a 200")
	// Scrape once more while running, then stop as SIGTERM would.
	s, err := scrape(url)
	require.NoError(t, err)
	stop()
	return s
}

// TestMetricsAreServed: every metric the dashboard and the alert rules name
// is served by a running worker, with the labels they filter on; and every
// licensefix metric the worker serves is on the dashboard.
func TestMetricsAreServed(t *testing.T) {
	t.Parallel()
	uses := namedMetrics(t)
	s := scrapeRunningWorker(t)

	var missing []string
	for name, where := range uses {
		if _, ok := s.series[name]; !ok {
			missing = append(missing, fmt.Sprintf("%s (%s)", name, strings.Join(dedupe(where), "; ")))
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "named by the dashboard or the alert rules, not served by licensefix run")

	// Label matchers name labels the series carry.
	check := func(where, expr string) {
		for _, vs := range selectors(t, where, expr) {
			f, ok := s.series[vs.Name]
			if !ok {
				continue // reported above
			}
			have := labelNames(f)
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName || targetLabels[m.Name] {
					continue
				}
				assert.True(t, have[m.Name], "%s: %s has no label %q (it has %v)", where, vs.Name, m.Name, keys(have))
			}
		}
	}
	for name, r := range alerts(t) {
		check("alert "+name, r.Expr)
	}
	onDashboard := map[string]bool{}
	for _, q := range dashboardQueries(t, loadDashboard(t)) {
		check(q.where, q.expr)
		for _, vs := range selectors(t, q.where, q.expr) {
			if f, ok := s.series[vs.Name]; ok {
				onDashboard[f.GetName()] = true
			}
		}
	}

	var notShown []string
	for name := range s.families {
		if strings.HasPrefix(name, "licensefix_") && !onDashboard[name] {
			notShown = append(notShown, name)
		}
	}
	sort.Strings(notShown)
	assert.Empty(t, notShown, "served by the worker but on no panel of %s", dashboardFile)
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
