package worker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readinessBody is the /readyz body.
type readinessBody struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
	// Cause is set with reason servicebus_disconnected: one of Causes.
	Cause string `json:"cause,omitempty"`
}

// Handler serves /livez (200 "ok" while intake, the Service Bus probe and
// settlements make progress, else 503 naming the wedged part), /readyz (200
// when ready, else 503 with {"ready":false,"reason":...,"cause":...}) and
// /metrics (Prometheus text format from the worker's private registry).
func (w *Worker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, what, late := w.Live()
		if !ok {
			rw.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(rw, "wedged: %s, %s past its bound\n", what, late.Round(time.Millisecond))
			return
		}
		_, _ = rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		ok, why, cause := w.readiness()
		rw.Header().Set("Content-Type", "application/json")
		if !ok {
			rw.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(rw).Encode(readinessBody{Ready: ok, Reason: why, Cause: cause})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}
