package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/pacing"
	"github.com/licensefix/licensefix/retry"
	"github.com/stretchr/testify/require"
)

// settlement is one settlement seen by fakeReceiver.
type settlement struct {
	id      string
	kind    string // complete, abandon, deadletter
	reason  string
	desc    string
	props   map[string]any
	renewed int
	byToken bool // settled by lock token ($management), not on its link
}

// fakeReceiver hands out queued messages and records settlements. It is a
// unit-test stand-in; the integration tests use the real SDK and sbemu.
type fakeReceiver struct {
	mu       sync.Mutex
	queue    []*azservicebus.ReceivedMessage
	arrived  chan struct{}
	settled  []settlement
	renewals map[string]int
	recvErrs []error // returned, in order, by the next ReceiveMessages calls
	maxAsked []int
	lockDur  time.Duration
	lostLock map[string]bool
	handed   int           // messages handed out
	most     int           // most handed out and not settled at once
	peekErr  error         // returned by PeekMessages while set
	wedge    chan struct{} // while non-nil, ReceiveMessages blocks until it closes, ignoring ctx
	peeks    int
	receiveN int // ReceiveMessages calls so far
	// peekGate, while non-nil, holds every PeekMessages call until it is
	// closed or the call's context ends (a first peek that takes a while).
	peekGate chan struct{}
	// settleBlock, when set, holds every settlement until it is closed,
	// ignoring the context (a wedged SDK call).
	settleBlock chan struct{}
	// settleHang makes settlements wait for their context to end, as
	// azservicebus does on a dead connection (it retries the dead link).
	// A settlement by lock token only ($management) does not hang: it
	// answers tokenSettleErr, or records the settlement with byToken set.
	settleHang     bool
	tokenSettleErr error
}

// byLockToken reports whether m is a message built only to settle by lock
// token (the worker's lockTokenOnly: no body, no lock expiry).
func byLockToken(m *azservicebus.ReceivedMessage) bool { return m.Body == nil && m.LockedUntil == nil }

// receives is the number of ReceiveMessages calls so far.
func (f *fakeReceiver) receives() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.receiveN
}

// maxHeld is the most messages the worker held at once.
func (f *fakeReceiver) maxHeld() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.most
}

func newFakeReceiver() *fakeReceiver {
	return &fakeReceiver{arrived: make(chan struct{}, 1), renewals: map[string]int{}, lockDur: time.Minute, lostLock: map[string]bool{}}
}

func (f *fakeReceiver) add(id, body string) { f.addTyped(id, body, "application/json") }

func (f *fakeReceiver) addTyped(id, body, ct string) {
	f.mu.Lock()
	lu := time.Now().Add(f.lockDur)
	now := time.Now()
	f.queue = append(f.queue, &azservicebus.ReceivedMessage{MessageID: id, Body: []byte(body), ContentType: &ct, LockedUntil: &lu, EnqueuedTime: &now, DeliveryCount: 1})
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
}

func (f *fakeReceiver) addUser(id, user string) { f.add(id, fmt.Sprintf(`{"userId":%q}`, user)) }

// redeliver queues m again, as Service Bus does after a lost lock: same
// message, delivery count one higher.
func (f *fakeReceiver) redeliver(m *azservicebus.ReceivedMessage) {
	f.mu.Lock()
	again := *m
	again.DeliveryCount++
	lu := time.Now().Add(f.lockDur)
	again.LockedUntil = &lu
	f.queue = append(f.queue, &again)
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
}

// PeekMessages is the connectivity probe: it fails with peekErr while set.
func (f *fakeReceiver) PeekMessages(ctx context.Context, _ int, _ *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	f.mu.Lock()
	gate := f.peekGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peeks++
	return nil, f.peekErr
}

func (f *fakeReceiver) setPeekErr(err error) {
	f.mu.Lock()
	f.peekErr = err
	f.mu.Unlock()
}

// wedgeReceives makes the next ReceiveMessages calls hang, ignoring their
// context, until the returned func is called.
func (f *fakeReceiver) wedgeReceives() (release func()) {
	c := make(chan struct{})
	f.mu.Lock()
	f.wedge = c
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.wedge = nil
			f.mu.Unlock()
			close(c)
		})
	}
}

func (f *fakeReceiver) ReceiveMessages(ctx context.Context, n int, _ *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	f.mu.Lock()
	f.receiveN++
	f.mu.Unlock()
	for {
		f.mu.Lock()
		if wedge := f.wedge; wedge != nil {
			f.mu.Unlock()
			<-wedge
			continue
		}
		f.maxAsked = append(f.maxAsked, n)
		if len(f.recvErrs) > 0 {
			err := f.recvErrs[0]
			f.recvErrs = f.recvErrs[1:]
			f.mu.Unlock()
			return nil, err
		}
		if len(f.queue) > 0 {
			k := min(n, len(f.queue))
			out := f.queue[:k:k]
			f.queue = f.queue[k:]
			f.handed += k
			f.most = max(f.most, f.handed-len(f.settled))
			f.mu.Unlock()
			return out, nil
		}
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-f.arrived:
		}
	}
}

func (f *fakeReceiver) record(s settlement) error {
	f.mu.Lock()
	if block := f.settleBlock; block != nil {
		f.mu.Unlock()
		<-block
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if f.lostLock[s.id] {
		return &azservicebus.Error{Code: azservicebus.CodeLockLost}
	}
	s.renewed = f.renewals[s.id]
	f.settled = append(f.settled, s)
	return nil
}

func (f *fakeReceiver) CompleteMessage(ctx context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.CompleteMessageOptions) error {
	f.mu.Lock()
	hang, tokenErr := f.settleHang, f.tokenSettleErr
	f.mu.Unlock()
	if byLockToken(m) {
		if tokenErr != nil {
			return tokenErr
		}
		return f.record(settlement{id: m.MessageID, kind: "complete", byToken: true})
	}
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.record(settlement{id: m.MessageID, kind: "complete"})
}

func (f *fakeReceiver) AbandonMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.AbandonMessageOptions) error {
	return f.record(settlement{id: m.MessageID, kind: "abandon"})
}

func (f *fakeReceiver) DeadLetterMessage(_ context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.DeadLetterOptions) error {
	return f.record(settlement{id: m.MessageID, kind: "deadletter", reason: *o.Reason, desc: *o.ErrorDescription, props: o.PropertiesToModify})
}

func (f *fakeReceiver) RenewMessageLock(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.RenewMessageLockOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lostLock[m.MessageID] {
		return &azservicebus.Error{Code: azservicebus.CodeLockLost}
	}
	f.renewals[m.MessageID]++
	lu := time.Now().Add(f.lockDur)
	m.LockedUntil = &lu
	return nil
}

func (f *fakeReceiver) settlements() []settlement {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]settlement(nil), f.settled...)
}

func (f *fakeReceiver) find(id string) (settlement, bool) {
	for _, s := range f.settlements() {
		if s.id == id {
			return s, true
		}
	}
	return settlement{}, false
}

// answer is one scripted fake Graph answer.
type answer struct {
	status     int // 0 or 2xx = success
	code       string
	retryAfter time.Duration
	delay      time.Duration
	netErr     bool
}

// fakeGraph answers per user from scripts, then with its default.
type fakeGraph struct {
	mu      sync.Mutex
	scripts map[string][]answer
	forever map[string]answer
	def     answer
	calls   map[string][]time.Time
}

func newFakeGraph() *fakeGraph {
	return &fakeGraph{scripts: map[string][]answer{}, forever: map[string]answer{}, calls: map[string][]time.Time{}}
}

func (g *fakeGraph) script(user string, a ...answer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.scripts[user] = append(g.scripts[user], a...)
}

func (g *fakeGraph) setForever(user string, a answer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.forever[user] = a
}

func (g *fakeGraph) setDefault(a answer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.def = a
}

func (g *fakeGraph) count(user string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls[user])
}

func (g *fakeGraph) times(user string) []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]time.Time(nil), g.calls[user]...)
}

func (g *fakeGraph) Reprocess(ctx context.Context, user string) (graph.Result, error) {
	g.mu.Lock()
	g.calls[user] = append(g.calls[user], time.Now())
	n := len(g.calls[user])
	a, ok := g.forever[user]
	if !ok {
		if s := g.scripts[user]; len(s) > 0 {
			a, g.scripts[user] = s[0], s[1:]
		} else {
			a = g.def
		}
	}
	g.mu.Unlock()
	if a.delay > 0 {
		select {
		case <-ctx.Done():
			return graph.Result{}, &graph.Error{Class: retry.Transient, Err: ctx.Err()}
		case <-time.After(a.delay):
		}
	}
	rid := fmt.Sprintf("req-%s-%d", user, n)
	crid := fmt.Sprintf("client-%s-%d", user, n)
	if a.netErr {
		return graph.Result{}, &graph.Error{Class: retry.Transient, ClientRequestID: crid, Err: errors.New("connection reset")}
	}
	if a.status == 0 || a.status/100 == 2 {
		return graph.Result{StatusCode: max(a.status, 200), RequestID: rid, ClientRequestID: crid}, nil
	}
	e := &graph.Error{StatusCode: a.status, Code: a.code, RequestID: rid, ClientRequestID: crid}
	if a.retryAfter > 0 {
		e.RetryAfter, e.HasRetryAfter = a.retryAfter, true
	}
	switch {
	case a.status == 408, a.status == 429, a.status >= 500 && a.status != 501, a.status == 409 && a.code == "Directory_ConcurrencyViolation":
		e.Class = retry.Transient
	case a.status == 401, a.status == 403:
		e.Class = retry.Systemic
	default:
		e.Class = retry.Permanent
	}
	return graph.Result{}, e
}

// testLogger writes through t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fastConfig is a Config with millisecond intervals for unit tests.
func fastConfig() Config {
	return Config{
		Concurrency:          4,
		ShutdownTimeout:      2 * time.Second,
		Retry:                retry.Policy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxElapsed: 5 * time.Second},
		BreakerThreshold:     3,
		BreakerProbeInterval: 20 * time.Millisecond,
		ProbeInterval:        20 * time.Millisecond,
		ReceiveWait:          200 * time.Millisecond,
		ReceiveRetryInterval: 5 * time.Millisecond,
		// Fast enough that pacing does not slow the unit tests; the pacing
		// tests set their own rates.
		Pacing: pacing.Config{InitialRate: 1000},
	}
}

// runFake starts a worker over fakes and stops it at cleanup.
func runFake(t *testing.T, cfg Config, r *fakeReceiver, g *fakeGraph) (*Worker, func() error) {
	t.Helper()
	w, err := New(cfg, Deps{Receiver: r, Graph: g, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return w, stop
}
