package worker

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcomes counted by licensefix_messages_total.
const (
	outcomeCompleted    = "completed"
	outcomeCoalesced    = "coalesced"
	outcomeDeadLettered = "dead_lettered"
	outcomeAbandoned    = "abandoned"
	outcomeLockLost     = "lock_lost"
	outcomeSettleFailed = "settle_failed"
)

// metrics are the worker's Prometheus collectors on a private registry.
type metrics struct {
	registry       *prometheus.Registry
	messages       *prometheus.CounterVec
	graphCalls     *prometheus.CounterVec
	graphLatency   prometheus.Histogram
	retries        prometheus.Counter
	inFlight       prometheus.Gauge
	lockRenewals   prometheus.Counter
	lockLosses     prometheus.Counter
	receiveErrors  prometheus.Counter
	breakerState   prometheus.Gauge
	systemicPaused prometheus.Gauge
	settleErrors   prometheus.Counter
	// settledByLockToken counts settlements made on $management by lock
	// token after the message's own link was gone.
	settledByLockToken prometheus.Counter
	sbErrors           *prometheus.CounterVec
	callsInFlight      prometheus.Gauge
	throttled          prometheus.Counter
	throttleWait       prometheus.Counter
}

func newMetrics(w *Worker) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "licensefix_messages_total",
			Help: "Messages finished, by outcome (completed, coalesced, dead_lettered, abandoned, lock_lost, settle_failed) and dead-letter reason.",
		}, []string{"outcome", "reason"}),
		graphCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "licensefix_graph_calls_total",
			Help: "Graph reprocess calls by HTTP status (\"error\" for transport failures).",
		}, []string{"status"}),
		graphLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "licensefix_graph_call_duration_seconds",
			Help:    "Latency of Graph reprocess calls.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensefix_retries_total",
			Help: "Graph calls retried after a transient failure.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "licensefix_messages_in_flight",
			Help: "Messages currently held.",
		}),
		lockRenewals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensefix_lock_renewals_total",
			Help: "Successful message lock renewals.",
		}),
		lockLosses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensefix_lock_losses_total",
			Help: "Messages whose lock was lost; they were not settled.",
		}),
		receiveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensefix_receive_errors_total",
			Help: "Service Bus receive errors.",
		}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "licensefix_breaker_open",
			Help: "1 while the Graph outage breaker is open, else 0.",
		}),
		systemicPaused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "licensefix_systemic_pause",
			Help: "1 while paused for a systemic Graph failure (missing permission, bad credentials), else 0.",
		}),
		settleErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensefix_settle_errors_total",
			Help: "Settlements that failed for another reason than a lost lock.",
		}),
		settledByLockToken: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensefix_settled_by_lock_token_total",
			Help: "Settlements made by lock token on the $management link because the link the message arrived on was gone.",
		}),
		sbErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "licensefix_servicebus_errors_total",
			Help: "Failed Service Bus calls by operation (probe, receive, settle, renew) and cause (refused, dns, tls, unauthorized, not_found, timeout, connection_lost, lock_lost, other).",
		}, []string{"op", "cause"}),
		callsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "licensefix_graph_calls_in_flight",
			Help: "Graph calls waiting for an answer (at most LICENSEFIX_CONCURRENCY).",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensefix_graph_throttled_total",
			Help: "Graph calls answered 429 (throttled).",
		}),
		throttleWait: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "licensefix_graph_throttle_wait_seconds_total",
			Help: "Seconds calls waited on the pacing limiter, a Retry-After or a pause before being sent (summed over calls).",
		}),
	}
	// Every operation and cause is served from the start, at zero, so that
	// rate() and alerts see the first failure.
	for _, op := range []string{opProbe, opReceive, opSettle, opRenew} {
		for _, cause := range Causes() {
			m.sbErrors.WithLabelValues(op, cause)
		}
	}
	now := w.clock.Now
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.registry.MustRegister(m.messages, m.graphCalls, m.graphLatency, m.retries, m.inFlight,
		m.lockRenewals, m.lockLosses, m.receiveErrors, m.breakerState, m.systemicPaused,
		m.settleErrors, m.settledByLockToken, m.sbErrors, m.callsInFlight, m.throttled, m.throttleWait,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "licensefix_paused_seconds_total",
			Help: "Seconds Graph calls and intake spent paused (breaker open or systemic failure).",
		}, func() float64 { return w.gates.pausedFor(now()).Seconds() }),
		gauge("licensefix_graph_rate_limit", "The adaptive pacing limiter's current rate, in Graph calls per second.",
			func() float64 { return w.gates.limiter().Rate() }),
		gauge("licensefix_graph_throttle_hold", "1 while Graph calls are held for a Retry-After, else 0.",
			func() float64 { _, held := w.gates.limiter().Held(now()); return boolGauge(held) }),
		gauge("licensefix_coalesce_memory_entries", "Users whose last successful reprocess call is remembered for coalescing.",
			func() float64 { return float64(w.calls.remembered()) }),
		gauge("licensefix_ready", "1 while /readyz answers 200, else 0.",
			func() float64 { ok, _ := w.Ready(); return boolGauge(ok) }),
		gauge("licensefix_servicebus_connected", "1 while the last Service Bus probe or receive succeeded, else 0 (also before the first answer).",
			func() float64 { _, connected, _ := w.sb.state(); return boolGauge(connected) }),
		gauge("licensefix_live", "1 while /livez answers 200 (intake, the Service Bus probe and settlements make progress), else 0.",
			func() float64 { ok, _, _ := w.Live(); return boolGauge(ok) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeCall(status int, d time.Duration) {
	label := "error"
	if status != 0 {
		label = strconv.Itoa(status)
	}
	m.graphCalls.WithLabelValues(label).Inc()
	m.graphLatency.Observe(d.Seconds())
}

func (m *metrics) setPause(outage, systemic bool) {
	m.breakerState.Set(boolGauge(outage))
	m.systemicPaused.Set(boolGauge(systemic))
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
