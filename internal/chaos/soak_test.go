//go:build chaossoak

package chaos

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	soakFlag   = flag.Duration("chaos.soak", 30*time.Minute, "how long TestSoak sends at the simulator's allowed rate")
	sampleFlag = flag.Duration("chaos.soak-sample", time.Minute, "how often TestSoak samples the worker")
)

// Soak settings and bounds. The worker is sampled every -chaos.soak-sample
// (a minute); the first sample at least two sample intervals in (the
// coalescing memory then holds every soak user, the pools are warm) is the
// baseline. Every later sample must stay within
// soakRSSFactor × baseline RSS + soakRSSSlack, and baseline goroutines +
// soakGoroutineSlack.
const (
	soakRate           = 20 // messages per second sent, and the Graph quota in calls per second
	soakUsers          = 1000
	soakRSSFactor      = 1.2
	soakRSSSlack       = 4 << 10 // KiB
	soakGoroutineSlack = 20
)

// sample is one measurement of the soak.
type sample struct {
	at         time.Duration
	rssKiB     int64
	goroutines int
	backlog    int   // active + locked messages
	succeeded  int64 // Graph 2xx answers so far
}

// TestSoak sends soakRate messages a second for -chaos.soak to one worker
// against a Graph quota of soakRate calls a second, samples the worker's
// RSS (/proc VmRSS) and goroutines (go_goroutines) every -chaos.soak-sample, then
// requires the queue to drain, every message to be completed exactly once
// and nothing dead-lettered, and RSS and goroutines to stay within the
// bounds above.
func TestSoak(t *testing.T) {
	soak, every := *soakFlag, *sampleFlag
	warmup := 2 * every
	require.GreaterOrEqual(t, soak, warmup+every, "-chaos.soak must cover the warm-up and one more sample")
	h := newHarness(t, setup{concurrency: 16, latency: 50 * time.Millisecond})
	require.NoError(t, h.gs.SetQuota(graphsim.Quota{Rate: soakRate}))
	h.start()
	w := h.running()[0]
	h.waitReady(w, 30*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sender, err := h.client.NewSender(sbemu.DefaultQueueName, nil)
	require.NoError(t, err)
	defer func() { _ = sender.Close(context.Background()) }()
	var sent []string
	var sendErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / soakRate)
		defer tick.Stop()
		ct := "application/json"
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			id := fmt.Sprintf("s-%06d", i)
			body := fmt.Appendf(nil, `{"userId":"soak-%04d@contoso.com"}`, i%soakUsers)
			if err := sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, ContentType: &ct, Body: body}, nil); err != nil {
				if ctx.Err() == nil {
					sendErr = err
				}
				return
			}
			sent = append(sent, id)
		}
	}()

	start := time.Now()
	var samples []sample
	take := func() {
		s := sample{at: time.Since(start).Round(time.Second), succeeded: h.gs.QuotaStats().Succeeded}
		s.rssKiB, err = vmRSS(w.cmd.Process.Pid)
		require.NoError(t, err)
		g, err := metric(w.httpAddr, "go_goroutines")
		require.NoError(t, err)
		s.goroutines = int(g)
		if st, err := h.sb.QueueStats(sbemu.DefaultQueueName); err == nil {
			s.backlog = st.Active + st.Locked
		}
		samples = append(samples, s)
		t.Logf("SOAK t=%s rss=%dKiB goroutines=%d backlog=%d graph_2xx=%d", s.at, s.rssKiB, s.goroutines, s.backlog, s.succeeded)
	}
	take()
	tick := time.NewTicker(every)
	for time.Since(start) < soak {
		<-tick.C
		take()
	}
	tick.Stop()
	cancel()
	wg.Wait()
	require.NoError(t, sendErr)
	drain := h.waitDrained(3 * time.Minute)
	take()
	h.stopAll()

	completed := map[string]bool{}
	for _, o := range readOutcomes(t, w) {
		if o.Kind == OutcomeCompleted || o.Kind == OutcomeCoalesced {
			completed[o.MessageID] = true
		}
	}
	missing := 0
	for _, id := range sent {
		if !completed[id] {
			missing++
		}
	}
	dead := h.peek(azservicebus.SubQueueDeadLetter)
	t.Logf("SOAK sent=%d completed=%d missing=%d dead_lettered=%d drained_at=%s", len(sent), len(completed), missing, len(dead), drain.Round(time.Second))
	assert.Zero(t, missing, "messages sent but never logged completed")
	assert.Empty(t, dead)

	var base *sample
	for i := range samples {
		if samples[i].at >= warmup {
			base = &samples[i]
			break
		}
	}
	require.NotNil(t, base)
	for _, s := range samples {
		if s.at <= base.at {
			continue
		}
		assert.LessOrEqualf(t, float64(s.rssKiB), soakRSSFactor*float64(base.rssKiB)+soakRSSSlack,
			"RSS %d KiB at %s grew beyond %.1f × %d KiB + %d KiB (baseline at %s)", s.rssKiB, s.at, soakRSSFactor, base.rssKiB, soakRSSSlack, base.at)
		assert.LessOrEqualf(t, s.goroutines, base.goroutines+soakGoroutineSlack,
			"goroutines %d at %s grew beyond %d + %d (baseline at %s)", s.goroutines, s.at, base.goroutines, soakGoroutineSlack, base.at)
	}
}
