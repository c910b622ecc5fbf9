package graphsim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. The zero value answers 200 to every valid call.
type Options struct {
	Addr string // listen address for standalone use; NewServer binds 127.0.0.1:0 when empty
	// RequireToken, when set, makes every call without "Authorization: Bearer <RequireToken>" answer 401.
	RequireToken string
	Latency      time.Duration // added to every answer

	// AppID and TenantID appear in x-ms-throttle-scope on 429s from the
	// quota and the token bucket; defaults are fixed made-up GUIDs (DefaultAppID,
	// DefaultTenantID).
	AppID    string
	TenantID string
	// MaxRequests bounds the recorded requests for long-running use
	// (oldest dropped first); 0 keeps every request. Calls counts all.
	MaxRequests int
	// Now is the clock of the quota (SetQuota) and of Request.Time; nil
	// uses time.Now. Tests inject a fake clock to check the quota's
	// arithmetic exactly. Delays and latency always use real time. Now is
	// called with the server's lock held: it must not call the Server.
	Now func() time.Time
	// Logger receives one debug line per request (never the Authorization
	// header); nil discards.
	Logger *slog.Logger
}

// Made-up identities used in x-ms-throttle-scope when Options leaves them
// empty.
const (
	DefaultAppID    = "11111111-2222-3333-4444-555555555555"
	DefaultTenantID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

// Server is a running simulator in the style of httptest.Server. Its
// methods are safe for concurrent use.
type Server struct {
	// URL is the root, e.g. http://127.0.0.1:PORT (use as graph.Config.RootURL).
	// It is empty for a Server made by New that was never started.
	URL string

	opts    Options
	logger  *slog.Logger
	closing chan struct{} // closed when Close starts; aborts delays

	mu  sync.Mutex // guards st and gen
	st  state
	gen int // incremented by Reset

	hmu      sync.Mutex // guards closed and handlers.Add
	closed   bool
	handlers sync.WaitGroup // running handler calls

	srv       *http.Server
	serveDone chan struct{}
	conns     sync.WaitGroup // connections not yet closed or hijacked

	closeOnce sync.Once
	closeErr  error
}

// state is everything Reset forgets.
type state struct {
	queues   map[string][]Response // per folded user id, answered first
	forever  map[string]Response   // per folded user id, after the queue
	def      *Response             // nil: the route's success answer
	outage   bool
	outageRA string
	bucket   *bucket
	quota    *quotaBucket // nil: no quota
	epoch    int          // incremented by SetQuota; successes count per epoch
	// succeeded and successes count 2xx answers to reprocess calls since
	// SetQuota or Reset: in all, and per folded user id.
	succeeded int64
	successes map[string]int
	latency   time.Duration
	tokens    []string // accepted bearer tokens; nil: Options.RequireToken
	requests  []Request
	dropped   int            // requests dropped from the front (Options.MaxRequests)
	calls     map[string]int // per folded user id
}

func newState(opts Options) state {
	return state{
		queues:    map[string][]Response{},
		forever:   map[string]Response{},
		calls:     map[string]int{},
		successes: map[string]int{},
		latency:   opts.Latency,
	}
}

// New returns a simulator that is not listening: serve its Handler with
// any http.Server or httptest.Server, or call it directly. Close is still
// safe to call and waits for running handler calls.
func New(opts Options) *Server {
	if opts.AppID == "" {
		opts.AppID = DefaultAppID
	}
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		opts:    opts,
		logger:  logger,
		closing: make(chan struct{}),
		st:      newState(opts),
	}
}

// NewServer starts a simulator on opts.Addr (default 127.0.0.1:0).
func NewServer(opts Options) (*Server, error) {
	s := New(opts)
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("graphsim: listen on %s: %w", addr, err)
	}
	s.URL = "http://" + urlHost(ln.Addr())
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.trackConn,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		_ = s.srv.Serve(ln) // always non-nil; ErrServerClosed after Close
	}()
	return s, nil
}

// urlHost renders a listener address for a URL, bracketing IPv6 and
// replacing an unspecified IP by loopback so the URL is dialable.
func urlHost(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		if ip.To4() == nil && ip != nil {
			ip = net.IPv6loopback
		} else {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// trackConn counts connections so Close can wait for their goroutines.
func (s *Server) trackConn(_ net.Conn, cs http.ConnState) {
	switch cs {
	case http.StateNew:
		s.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.conns.Done()
	}
}

// Close stops the server and waits for its goroutines; idempotent. Delayed
// answers still pending are abandoned (their connections are closed).
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.hmu.Lock()
		s.closed = true
		s.hmu.Unlock()
		if s.srv != nil {
			if err := s.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				s.closeErr = fmt.Errorf("graphsim: close: %w", err)
			}
			<-s.serveDone
		}
		s.handlers.Wait()
		if s.srv != nil {
			s.conns.Wait()
		}
	})
	return s.closeErr
}

// Handler returns the simulator's HTTP handler. After Close it aborts every
// request.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hmu.Lock()
		if s.closed {
			s.hmu.Unlock()
			panic(http.ErrAbortHandler)
		}
		s.handlers.Add(1)
		s.hmu.Unlock()
		defer s.handlers.Done()
		s.serve(w, r)
	})
}

// now reads the server's clock (Options.Now, default time.Now).
func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// fold is the key under which a user's script and calls are kept: Graph
// matches object ids and userPrincipalNames case-insensitively.
func fold(userID string) string { return strings.ToLower(userID) }

// LogValue renders r for slog without the Authorization header, so a
// recorded request can be logged safely.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Time("time", r.Time),
		slog.String("method", r.Method),
		slog.String("path", r.Path),
		slog.String("user_id", r.UserID),
		slog.String("api", r.API),
		slog.Int64("body_length", r.BodyLength),
		slog.Bool("has_authorization", r.HasAuthorization),
		slog.String("client_request_id", r.ClientRequestID),
		slog.String("user_agent", r.UserAgent),
		slog.String("retry_attempt", r.RetryAttempt),
		slog.Int("status", r.Status),
	)
}
