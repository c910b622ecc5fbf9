package quotabench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/retry"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/licensefix/licensefix/worker"
	"github.com/stretchr/testify/require"
)

// scenario is one measured drain.
type scenario struct {
	replicas, concurrency int
	rate, burst           float64 // the quota (calls/s, tokens)
	steps                 []graphsim.QuotaStep
	latency               time.Duration
	users, perUser        int           // messages = users × perUser, shuffled
	maxRetry              time.Duration // LICENSEFIX_MAX_RETRY_DURATION
	lock                  time.Duration
	// until, when set, ends the run at that time even with messages left
	// (the step scenario).
	until time.Duration
}

// result is what a drain measured.
type result struct {
	elapsed                 time.Duration
	stats                   graphsim.QuotaStats
	completed, coalesced    float64
	deadLettered            float64
	perReplica              []float64 // messages finished by each replica
	perSecond               []int64   // successes per second of the run
	rateAtEnd               []float64 // each replica's limiter rate at the end
	messages, distinctUsers int
	allowedCalls            float64 // what the quota allowed over elapsed
}

// utilisation is successes per second divided by the allowed rate.
func (r result) utilisation() float64 { return float64(r.stats.Succeeded) / r.allowedCalls }

// throttledShare is the share of calls answered 429.
func (r result) throttledShare() float64 {
	if r.stats.Calls == 0 {
		return 0
	}
	return float64(r.stats.Throttled) / float64(r.stats.Calls)
}

// allowed integrates the quota's rate over [0, d].
func allowed(sc scenario, d time.Duration) float64 {
	total, at, rate := 0.0, time.Duration(0), sc.rate
	for _, st := range sc.steps {
		if st.At >= d {
			break
		}
		total += rate * (st.At - at).Seconds()
		at, rate = st.At, st.Rate
	}
	return total + rate*(d-at).Seconds()
}

// metricsOf scrapes one sample of a worker's /metrics.
func metricsOf(w *worker.Worker) map[string]float64 {
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

const (
	sampleCompleted = `licensefix_messages_total{outcome="completed",reason=""}`
	sampleCoalesced = `licensefix_messages_total{outcome="coalesced",reason=""}`
)

// finished sums a worker's finished messages by outcome.
func finished(m map[string]float64) (completed, coalesced, deadLettered float64) {
	for k, v := range m {
		if strings.HasPrefix(k, `licensefix_messages_total{outcome="dead_lettered"`) {
			deadLettered += v
		}
	}
	return m[sampleCompleted], m[sampleCoalesced], deadLettered
}

// sendAll sends users × perUser messages in a shuffled order.
func sendAll(tb testing.TB, client *azservicebus.Client, sc scenario) int {
	sender, err := client.NewSender(sbemu.DefaultQueueName, nil)
	require.NoError(tb, err)
	defer func() { _ = sender.Close(context.Background()) }()
	var ids []string
	for u := range sc.users {
		for k := range sc.perUser {
			ids = append(ids, fmt.Sprintf("%d/%d", u, k))
		}
	}
	rnd := rand.New(rand.NewPCG(7, 11))
	rnd.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	batch, err := sender.NewMessageBatch(ctx, nil)
	require.NoError(tb, err)
	ct := "application/json"
	for _, id := range ids {
		user, _, _ := strings.Cut(id, "/")
		mid := "m-" + id
		msg := &azservicebus.Message{MessageID: &mid, ContentType: &ct, Body: fmt.Appendf(nil, `{"userId":"user%s@contoso.com"}`, user)}
		if err := batch.AddMessage(msg, nil); err != nil {
			require.NoError(tb, sender.SendMessageBatch(ctx, batch, nil))
			batch, err = sender.NewMessageBatch(ctx, nil)
			require.NoError(tb, err)
			require.NoError(tb, batch.AddMessage(msg, nil))
		}
	}
	if batch.NumMessages() > 0 {
		require.NoError(tb, sender.SendMessageBatch(ctx, batch, nil))
	}
	return len(ids)
}

func clientOptions() *azservicebus.ClientOptions {
	return &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 500 * time.Millisecond}}
}

// drain runs one scenario and measures it.
func drain(tb testing.TB, sc scenario) result {
	tb.Helper()
	if sc.lock == 0 {
		sc.lock = 30 * time.Second
	}
	if sc.maxRetry == 0 {
		sc.maxRetry = time.Minute
	}
	if sc.perUser == 0 {
		sc.perUser = 1
	}
	cfg := sbemu.DefaultConfig()
	cfg.UserConfig.Namespaces[0].Queues[0].Properties.LockDuration = sbemu.Duration(sc.lock)
	sb, err := sbemu.NewServer(&sbemu.Options{TB: tb, Config: cfg})
	require.NoError(tb, err)
	gs, err := graphsim.NewServer(graphsim.Options{Latency: sc.latency, MaxRequests: 1})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = gs.Close() })

	newClient := func() *azservicebus.Client {
		c, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), clientOptions())
		require.NoError(tb, err)
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Close(ctx)
		})
		return c
	}
	n := sendAll(tb, newClient(), sc)
	// The messages are a backlog older than the coalescing skew allowance
	// (LICENSEFIX_COALESCE_SKEW, 1 s), as a queue that needs draining is.
	time.Sleep(worker.DefaultCoalesceSkew + 200*time.Millisecond)

	workers := make([]*worker.Worker, sc.replicas)
	for i := range workers {
		recv, err := newClient().NewReceiverForQueue(sbemu.DefaultQueueName, nil)
		require.NoError(tb, err)
		gc, err := graph.New(graph.Config{RootURL: gs.URL, Auth: graph.AuthNone, Timeout: 10 * time.Second})
		require.NoError(tb, err)
		w, err := worker.New(worker.Config{
			Concurrency: sc.concurrency,
			Retry:       retry.Policy{MaxElapsed: sc.maxRetry},
		}, worker.Deps{Receiver: recv, Graph: gc, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		require.NoError(tb, err)
		workers[i] = w
	}
	require.NoError(tb, gs.SetQuota(graphsim.Quota{Rate: sc.rate, Burst: sc.burst, Steps: sc.steps}))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				tb.Errorf("worker: %v", err)
			}
		}()
	}
	r := result{messages: n, distinctUsers: sc.users}
	var last int64
	tick := time.NewTicker(100 * time.Millisecond)
	nextSecond := start.Add(time.Second)
	for range tick.C {
		now := time.Now()
		if !now.Before(nextSecond) {
			s := gs.QuotaStats().Succeeded
			r.perSecond = append(r.perSecond, s-last)
			last = s
			nextSecond = nextSecond.Add(time.Second)
		}
		total := 0.0
		for _, w := range workers {
			c, co, dl := finished(metricsOf(w))
			total += c + co + dl
		}
		if total >= float64(n) || (sc.until > 0 && now.Sub(start) >= sc.until) || now.Sub(start) > 10*time.Minute {
			r.elapsed = now.Sub(start)
			break
		}
	}
	tick.Stop()
	r.stats = gs.QuotaStats()
	for _, w := range workers {
		m := metricsOf(w)
		c, co, dl := finished(m)
		r.completed += c
		r.coalesced += co
		r.deadLettered += dl
		r.perReplica = append(r.perReplica, c+co+dl)
		r.rateAtEnd = append(r.rateAtEnd, m["licensefix_graph_rate_limit"])
	}
	cancel()
	wg.Wait()
	r.allowedCalls = allowed(sc, r.elapsed)
	return r
}

func (r result) String() string {
	return fmt.Sprintf("elapsed=%s successes=%d calls=%d throttled=%d (%.2f%%) util=%.3f dead=%v completed=%v coalesced=%v perReplica=%v rates=%v",
		r.elapsed.Round(time.Millisecond), r.stats.Succeeded, r.stats.Calls, r.stats.Throttled, 100*r.throttledShare(), r.utilisation(),
		r.deadLettered, r.completed, r.coalesced, r.perReplica, r.rateAtEnd)
}
