package graphsim

import (
	"errors"
	"time"
)

var errTODO = errors.New("graphsim: not implemented yet")

// Server is a running simulator in the style of httptest.Server.
type Server struct {
	// URL is the root, e.g. http://127.0.0.1:PORT (use as graph.Config.RootURL).
	URL string
}

// NewServer starts a simulator on opts.Addr (default 127.0.0.1:0).
func NewServer(opts Options) (*Server, error) { panic(errTODO) }

// Close stops the server and waits for its goroutines; idempotent.
func (s *Server) Close() error { panic(errTODO) }

// Script queues responses for userID, answered in order; after the last one
// the user gets the default answer (200) again. Use Forever to repeat one.
func (s *Server) Script(userID string, responses ...Response) { panic(errTODO) }

// Forever makes r the answer for userID on every call until re-scripted.
func (s *Server) Forever(userID string, r Response) { panic(errTODO) }

// SetDefault sets the answer for users with no script (default 200).
func (s *Server) SetDefault(r Response) { panic(errTODO) }

// SetOutage makes every call answer 503 (with retryAfter, "" for none) until EndOutage.
func (s *Server) SetOutage(retryAfter string) { panic(errTODO) }

// EndOutage ends an outage.
func (s *Server) EndOutage() { panic(errTODO) }

// SetTokenBucket limits writes tenant-wide to n per window, answering 429
// with Retry-After when exceeded; n <= 0 removes the limit.
func (s *Server) SetTokenBucket(n int, window time.Duration) { panic(errTODO) }

// SetLatency sets the delay added to every answer.
func (s *Server) SetLatency(d time.Duration) { panic(errTODO) }

// Requests returns a copy of every recorded request in arrival order.
func (s *Server) Requests() []Request { panic(errTODO) }

// Calls returns how many requests targeted userID.
func (s *Server) Calls(userID string) int { panic(errTODO) }

// Reset forgets scripts, recorded requests, outage, bucket and latency.
func (s *Server) Reset() { panic(errTODO) }
