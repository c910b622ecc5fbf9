package worker_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/pacing"
	"github.com/licensefix/licensefix/worker"
	"github.com/stretchr/testify/require"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sendBatch sends n messages for distinct users in SDK-sized batches.
func (h *harness) sendBatch(prefix string, n int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	batch, err := h.sender.NewMessageBatch(ctx, nil)
	require.NoError(h.t, err)
	ct := "application/json"
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		msg := &azservicebus.Message{MessageID: &id, ContentType: &ct, Body: fmt.Appendf(nil, `{"userId":"%s-%d@contoso.com"}`, prefix, i)}
		if err := batch.AddMessage(msg, nil); err != nil {
			require.NoError(h.t, h.sender.SendMessageBatch(ctx, batch, nil))
			batch, err = h.sender.NewMessageBatch(ctx, nil)
			require.NoError(h.t, err)
			require.NoError(h.t, batch.AddMessage(msg, nil))
		}
	}
	if batch.NumMessages() > 0 {
		require.NoError(h.t, h.sender.SendMessageBatch(ctx, batch, nil))
	}
}

// BenchmarkWorkerEndToEnd drives messages through the real SDK, the
// emulator and the Graph simulator. It reports messages/s, CPU per message
// (the whole process: worker, SDK, emulator and simulator together) and, with
// Graph latency, efficiency = achieved msgs/s ÷ (concurrency ÷ latency).
//
// pacing=default runs the limiter as deployed: a slow start from 10 calls/s
// that no quota stops, under a ceiling of 1,000 calls/s, so it measures how
// soon a fresh worker gets up to speed. pacing=off sets the limiter out of
// the way (a hard cap of a million calls/s, starting there) and measures the
// machinery alone, as the first release's figures did.
func BenchmarkWorkerEndToEnd(b *testing.B) {
	for _, pc := range []struct {
		name   string
		pacing pacing.Config
	}{
		{"default", pacing.Config{}},
		{"off", pacing.Config{InitialRate: 1e6, MaxRate: 1e6}},
	} {
		for _, latency := range []time.Duration{0, 100 * time.Millisecond} {
			b.Run(fmt.Sprintf("pacing=%s/latency=%s/concurrency=16", pc.name, latency), func(b *testing.B) {
				benchEndToEnd(b, pc.pacing, latency)
			})
		}
	}
}

func benchEndToEnd(b *testing.B, pc pacing.Config, latency time.Duration) {
	h := newHarness(b, harnessOptions{lockDuration: time.Minute, config: func(c *worker.Config) {
		c.Concurrency = 16
		c.Pacing = pc
	}})
	h.gs.SetLatency(latency)
	h.sendBatch("bench", b.N)
	cpu0 := cpuTime(b)
	start := time.Now()
	b.ResetTimer()
	h.start()
	for h.metric(completedSample()) < float64(b.N) {
		time.Sleep(20 * time.Millisecond) // coarse: scraping /metrics costs CPU too
	}
	b.StopTimer()
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
	if latency > 0 {
		ideal := 16 / latency.Seconds()
		b.ReportMetric(rate/ideal, "efficiency")
	}
	require.NoError(b, h.stop())
}
