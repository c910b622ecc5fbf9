package worker

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes counted by licensefix_messages_total.
const (
	outcomeCompleted    = "completed"
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
}

func newMetrics(pausedSeconds func() float64) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "licensefix_messages_total",
			Help: "Messages finished, by outcome (completed, dead_lettered, abandoned, lock_lost, settle_failed) and dead-letter reason.",
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
	}
	m.registry.MustRegister(m.messages, m.graphCalls, m.graphLatency, m.retries, m.inFlight,
		m.lockRenewals, m.lockLosses, m.receiveErrors, m.breakerState, m.systemicPaused,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "licensefix_paused_seconds_total",
			Help: "Seconds Graph calls and intake spent paused (breaker open or systemic failure).",
		}, pausedSeconds))
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

func (m *metrics) setPause(k pauseKind) {
	m.breakerState.Set(boolGauge(k == pausedOutage))
	m.systemicPaused.Set(boolGauge(k == pausedSystemic))
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
