package worker

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph"
)

// Receiver is the part of *azservicebus.Receiver the worker uses.
type Receiver interface {
	ReceiveMessages(ctx context.Context, maxMessages int, options *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, msg *azservicebus.ReceivedMessage, options *azservicebus.CompleteMessageOptions) error
	AbandonMessage(ctx context.Context, msg *azservicebus.ReceivedMessage, options *azservicebus.AbandonMessageOptions) error
	DeadLetterMessage(ctx context.Context, msg *azservicebus.ReceivedMessage, options *azservicebus.DeadLetterOptions) error
	RenewMessageLock(ctx context.Context, msg *azservicebus.ReceivedMessage, options *azservicebus.RenewMessageLockOptions) error
	// PeekMessages is the connectivity probe (a peek of one message through
	// the $management link, with the receiver's own cursor).
	PeekMessages(ctx context.Context, maxMessageCount int, options *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
}

var _ Receiver = (*azservicebus.Receiver)(nil)

// Reprocessor calls Graph's reprocess action once for a user.
type Reprocessor interface {
	Reprocess(ctx context.Context, userID string) (graph.Result, error)
}

var _ Reprocessor = (*graph.Client)(nil)

// Clock is the time source; tests may inject their own.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// systemClock is the real clock.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Deps are the worker's collaborators.
type Deps struct {
	// Receiver is a peek-lock receiver on the queue, or on a topic
	// subscription (required). The caller closes it after Run returns.
	Receiver Receiver
	// Graph calls the reprocess action (required), normally a *graph.Client.
	Graph Reprocessor
	// Logger receives the worker's logs (nil = discard).
	Logger *slog.Logger
	// Clock is the time source (nil = the system clock).
	Clock Clock
	// Diagnose, when set, checks the network path to Service Bus (DNS, TCP,
	// TLS) and returns the first failure; the worker calls it to name the
	// cause when its probe gets no answer, since azservicebus retries inside
	// each call and returns only the deadline. Normally
	// sbconn.Options.Diagnose.
	Diagnose func(ctx context.Context) error
}

// FatalError is returned by Run when Service Bus refuses the worker for
// good (unauthorized, queue not found). Code is the SDK's error code.
type FatalError struct {
	Code azservicebus.Code
	Err  error
}

// Error describes the failure by its code.
func (e *FatalError) Error() string {
	return "worker: Service Bus refused the receiver (" + string(e.Code) + "): " + e.Err.Error()
}

// Unwrap returns the SDK error.
func (e *FatalError) Unwrap() error { return e.Err }

// Worker is the engine; see the package documentation. Create it with New
// and call Run once.
type Worker struct {
	cfg     Config
	recv    Receiver
	graph   Reprocessor
	log     *slog.Logger
	clock   Clock
	gates   *gates
	calls   *coalescer
	metrics *metrics

	started      atomic.Bool
	stoppingFlag atomic.Bool
	sb           *sbHealth     // Service Bus reachability and connection epoch
	live         *watchdog     // progress of intake, the probe and settlements
	probeNow     chan struct{} // asks the probe loop to probe at once
	diagnose     func(context.Context) error
	wedgeLogged  atomic.Bool // the current wedge has been logged

	// Set by Run before any message goroutine starts.
	stopping       chan struct{}   // closed when shutdown begins
	firstProbed    chan struct{}   // closed when a probe's peek has first succeeded or failed for good
	callCtx        context.Context // cancelled when in-flight calls must end
	settleCtx      context.Context // cancelled when settlement must end
	slotFreed      chan struct{}
	inFlight       atomic.Int64  // messages held
	callSlots      chan struct{} // one token per Graph call in flight
	throttledTotal atomic.Int64  // calls answered 429
	latencyNanos   atomic.Int64  // moving average of Graph call latency (0: none yet)
	lockNanos      atomic.Int64  // the longest lock duration seen (0: none yet)
	wg             sync.WaitGroup
}

// New validates cfg (after WithDefaults) and returns a Worker.
func New(cfg Config, deps Deps) (*Worker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Receiver == nil {
		return nil, errors.New("worker: Deps.Receiver is required")
	}
	if deps.Graph == nil {
		return nil, errors.New("worker: Deps.Graph is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Clock == nil {
		deps.Clock = systemClock{}
	}
	w := &Worker{
		cfg:       cfg,
		recv:      deps.Receiver,
		graph:     deps.Graph,
		log:       deps.Logger,
		clock:     deps.Clock,
		slotFreed: make(chan struct{}, 1),
		callSlots: make(chan struct{}, cfg.Concurrency),
		calls:     newCoalescer(cfg.CoalesceMemory, cfg.CoalesceMaxAge, cfg.CoalesceSkew),
		sb:        newSBHealth(deps.Logger),
		live:      newWatchdog(cfg.LivenessGrace, cfg.SettleTimeout),
		probeNow:  make(chan struct{}, 1),
		diagnose:  deps.Diagnose,
	}
	w.gates = newGates(cfg, w.clock.Now)
	w.metrics = newMetrics(w)
	return w, nil
}

// Config returns the effective configuration (defaults applied).
func (w *Worker) Config() Config { return w.cfg }

// Ready reports whether the worker is taking work, and if not, why:
// starting (also until Service Bus first answers), shutting_down,
// servicebus_disconnected, graph_outage, graph_permission_missing,
// graph_unauthorized or graph_misconfigured.
func (w *Worker) Ready() (bool, string) {
	ok, why, _ := w.readiness()
	return ok, why
}

// ServiceBusCause is why Service Bus is unreachable (one of [Causes]), or
// "" while it is reachable or has not answered yet.
func (w *Worker) ServiceBusCause() string {
	_, connected, cause := w.sb.state()
	if connected {
		return ""
	}
	return cause
}

// readiness is Ready with the Service Bus cause when disconnected.
func (w *Worker) readiness() (ok bool, why, cause string) {
	switch {
	case !w.started.Load():
		return false, ReadyReasonStarting, ""
	case w.stoppingFlag.Load():
		return false, ReadyReasonShuttingDown, ""
	}
	known, connected, cause := w.sb.state()
	switch {
	case !known:
		return false, ReadyReasonStarting, ""
	case !connected:
		return false, ReadyReasonDisconnected, cause
	}
	if why, _, _ := w.gates.state(); why != "" {
		return false, why, ""
	}
	return true, "", ""
}

// Live reports whether the worker's own loops make progress, and if not,
// which is wedged (intake, servicebus_probe or settlement) and for how long
// past its bound.
func (w *Worker) Live() (bool, string, time.Duration) {
	what, late := w.live.wedged(w.clock.Now())
	if what == "" {
		w.wedgeLogged.Store(false)
		return true, "", 0
	}
	if w.wedgeLogged.CompareAndSwap(false, true) {
		w.log.Error("worker wedged; /livez fails", slog.String("wedged", what), slog.Duration("overdue", late))
	}
	return false, what, late
}

// errRunTwice is returned by a second call to Run.
var errRunTwice = errors.New("worker: Run called twice")

// Run receives and processes messages until ctx ends (a graceful stop,
// returning nil) or Service Bus refuses the receiver for good (a
// *FatalError). Either way it stops intake at once, lets calls in flight
// finish within ShutdownTimeout, abandons whatever is still held and
// returns only when every message goroutine has ended.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errRunTwice
	}
	base := context.WithoutCancel(ctx)
	callCtx, cancelCalls := context.WithCancel(base)
	settleCtx, cancelSettle := context.WithCancel(base)
	defer cancelCalls()
	defer cancelSettle()
	w.stopping = make(chan struct{})
	w.firstProbed = make(chan struct{})
	w.callCtx, w.settleCtx = callCtx, settleCtx

	w.log.InfoContext(ctx, "worker started",
		slog.Int("concurrency", w.cfg.Concurrency),
		slog.String("graph_api", string(w.cfg.GraphAPI)))
	reportCtx, stopReport := context.WithCancel(ctx)
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		w.reportPacing(reportCtx)
	}()
	// The probe runs until every message is settled: settlements during
	// shutdown still need to know when a connection is lost.
	probeCtx, stopProbe := context.WithCancel(base)
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		defer w.live.stop(loopProbe)
		w.probeServiceBus(probeCtx)
	}()
	defer func() {
		stopProbe()
		<-probed
	}()
	runErr := w.intake(ctx)
	w.live.stop(loopIntake)
	stopReport() // intake ended by itself on a fatal error, or ctx ended
	<-reported

	// Shutdown: intake has stopped. Calls in flight get ShutdownTimeout
	// minus a reserve for settlement; settlement gets all of it.
	w.stoppingFlag.Store(true)
	close(w.stopping)
	reserve := min(5*time.Second, w.cfg.ShutdownTimeout/5)
	callTimer := time.AfterFunc(w.cfg.ShutdownTimeout-reserve, cancelCalls)
	settleTimer := time.AfterFunc(w.cfg.ShutdownTimeout, cancelSettle)
	defer callTimer.Stop()
	defer settleTimer.Stop()
	w.log.Info("worker stopping", slog.Int64("in_flight", w.inFlight.Load()), slog.Duration("shutdown_timeout", w.cfg.ShutdownTimeout))
	w.wg.Wait()
	w.log.Info("worker stopped")
	return runErr
}

// intake receives messages into free slots until ctx ends or a fatal error.
//
// Its first receive waits until a probe's peek has succeeded (or failed
// with an error no retry mends, which the receive then reports), so that
// the calls that create the receiver's links are the probe's alone.
// azservicebus v1.11.0 creates a receiver's links on first use, and again
// after a call that failed to create them, checking for them under a read
// lock and creating them under the write lock without checking again
// (AMQPLinksImpl.Get in internal/amqpLinks.go): two such calls at once can
// each create a set, and the set overwritten stays open with a CBS claim
// renewer that nothing stops. While Service Bus is unreachable at start-up
// there is nothing to receive anyway.
func (w *Worker) intake(ctx context.Context) error {
	select {
	case <-w.firstProbed:
	case <-ctx.Done():
		return nil
	}
	retryWait := w.cfg.ReceiveRetryInterval
	for {
		free, err := w.waitForRoom(ctx)
		if err != nil {
			return nil
		}
		epoch, _ := w.sb.current()
		started := w.clock.Now()
		w.live.expect(loopIntake, started, w.cfg.ReceiveWait)
		hctx, cancelHeld := context.WithCancelCause(ctx)
		rctx, cancel := context.WithTimeout(hctx, w.cfg.ReceiveWait)
		watched := w.cancelOnHold(rctx, cancelHeld)
		msgs, err := w.recv.ReceiveMessages(rctx, free, nil)
		pollExpired := rctx.Err() != nil
		heldBack := errors.Is(context.Cause(hctx), errHeldBack)
		cancel()
		cancelHeld(nil)
		<-watched
		if ctx.Err() != nil {
			// Shutting down; anything received in the race is still ours.
			w.dispatch(msgs, epoch)
			return nil
		}
		if err != nil && !(pollExpired && errors.Is(err, context.DeadlineExceeded)) && !heldBack {
			if sbErr, ok := refusedReceiver(err); ok {
				w.serviceBusFailed(opReceive, err)
				w.log.Error("service bus refused the receiver; stopping", slog.String("code", string(sbErr.Code)), slog.String("error", err.Error()))
				w.dispatch(msgs, epoch)
				return &FatalError{Code: sbErr.Code, Err: err}
			}
			w.metrics.receiveErrors.Inc()
			cause := w.serviceBusFailed(opReceive, err)
			w.log.Warn("service bus receive failed; retrying", slog.String("cause", cause), slog.String("error", err.Error()), slog.Duration("retry_in", retryWait))
			w.live.expect(loopIntake, w.clock.Now(), retryWait)
			select {
			case <-ctx.Done():
				return nil
			case <-w.clock.After(retryWait):
			}
			retryWait = min(2*retryWait, maxReceiveRetryInterval)
			continue
		}
		if err == nil && len(msgs) == 0 && !pollExpired {
			// azservicebus returns no messages and no error when the link
			// or connection failed during the receive (it closes them for
			// the next call to recover): messages held from before may
			// sit on a dead link.
			w.sb.lost()
		}
		retryWait = w.cfg.ReceiveRetryInterval
		if len(msgs) > 0 {
			w.sb.up(w.clock.Now())
		}
		w.dispatch(msgs, epoch)
	}
}

// heldLockFraction is the share of the lock duration within which the
// worker must be able to start calling for every message it holds.
const heldLockFraction = 0.5

// maxHeldWork bounds the messages held to this much work at the current
// rate: enough to keep every call slot busy across receive round trips and
// to let messages for one user meet, while memory and lock renewals stay
// proportional to the rate, not to the lock duration.
const maxHeldWork = time.Second

// maxHeld caps the messages held at once (the SDK's credit limit).
const maxHeld = 5000

// maxReceiveBatch caps one receive call.
const maxReceiveBatch = 500

// startRate is the rate at which calls can start now: the limiter's rate,
// or what Concurrency slots at the observed latency allow, if lower.
func (w *Worker) startRate() float64 {
	rate := w.gates.limiter().Rate()
	if lat := time.Duration(w.latencyNanos.Load()); lat > 0 {
		rate = min(rate, float64(w.cfg.Concurrency)/lat.Seconds())
	}
	return rate
}

// heldLimit is the most messages worth holding now: no more than calls can
// start for within heldLockFraction of the lock duration at the current
// start rate (more would sit locked here while other replicas could work on
// them), and no more than maxHeldWork of work, but enough to fill the call
// slots when the lock allows; at least one.
func (w *Worker) heldLimit() int {
	lock := time.Duration(w.lockNanos.Load())
	if lock <= 0 {
		// No message yet: take one to learn the queue's lock duration.
		return 1
	}
	rate := w.startRate()
	withinLock := int(rate * lock.Seconds() * heldLockFraction)
	n := min(withinLock, int(rate*maxHeldWork.Seconds()))
	n = max(n, min(w.cfg.Concurrency, withinLock))
	return max(1, min(n, maxHeld))
}

// noteLatency folds one call's duration into the latency average.
func (w *Worker) noteLatency(d time.Duration) {
	for {
		old := w.latencyNanos.Load()
		next := int64(d)
		if old > 0 {
			next = old + (int64(d)-old)/8
		}
		if w.latencyNanos.CompareAndSwap(old, next) {
			return
		}
	}
}

// waitForRoom blocks until intake may take messages: calls are not held
// back (Retry-After, breaker, systemic pause) and fewer than heldLimit
// messages are held. It returns how many to ask for.
func (w *Worker) waitForRoom(ctx context.Context) (int, error) {
	// Timers are kept across wake-ups: every finished message wakes this
	// loop, and a fresh timer each time is garbage. A timer is reused while
	// it fires no later than the wait now wanted.
	var timer <-chan time.Time
	var timerAt time.Time
	for {
		now := w.clock.Now()
		holding, changed := w.gates.holding(now)
		limit, held := w.heldLimit(), int(w.inFlight.Load())
		free := limit - held
		// Receive in batches of a quarter of the limit, so that a large
		// limit does not turn into one receive round trip per finished
		// message; but at once whenever call slots could run dry.
		if !holding && free > 0 && (free >= max(1, limit/4) || held < w.cfg.Concurrency) {
			return min(free, maxReceiveBatch), nil
		}
		// Wake at least every intakeWake, so the watchdog sees intake
		// alive however long calls are held back.
		wait := intakeWake
		if until, held := w.gates.limiter().Held(now); held {
			wait = min(wait, until.Sub(now))
		} else if !holding {
			// The limit follows the rate: look again now and then.
			wait = 250 * time.Millisecond
		}
		w.live.expect(loopIntake, now, wait)
		if timer == nil || timerAt.After(now.Add(wait)) {
			timer, timerAt = w.clock.After(wait), now.Add(wait)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-changed:
		case <-w.slotFreed:
		case <-timer:
			timer = nil
		}
	}
}

// reportPacing logs the limiter's state every PacingLogInterval while it
// moves (the rate changed by more than 5 %, or calls were throttled), until
// ctx ends.
func (w *Worker) reportPacing(ctx context.Context) {
	tick := time.NewTicker(w.cfg.PacingLogInterval)
	defer tick.Stop()
	lim := w.gates.limiter()
	lastRate, lastThrottled := lim.Rate(), w.throttledCalls()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rate, throttled := lim.Rate(), w.throttledCalls()
		if throttled == lastThrottled && math.Abs(rate-lastRate) <= 0.05*lastRate {
			continue
		}
		_, held := lim.Held(w.clock.Now())
		w.log.Info("graph pacing",
			slog.Float64("rate_limit", math.Round(rate*100)/100),
			slog.String("phase", lim.Phase().String()),
			slog.Int64("throttled", throttled-lastThrottled),
			slog.Bool("retry_after_hold", held),
			slog.Int64("messages_held", w.inFlight.Load()))
		lastRate, lastThrottled = rate, throttled
	}
}

// throttledCalls is the count of calls answered 429 so far.
func (w *Worker) throttledCalls() int64 { return w.throttledTotal.Load() }

// errHeldBack is the cause of a receive cancelled because calls are held.
var errHeldBack = errors.New("worker: calls held back")

// cancelOnHold cancels a receive in progress as soon as calls are held
// back (a Retry-After, the breaker, a pause), so that no message arriving
// meanwhile is taken and locked for nothing. The returned channel closes
// when the watcher has ended, after rctx is done.
func (w *Worker) cancelOnHold(rctx context.Context, cancel context.CancelCauseFunc) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			holding, changed := w.gates.holding(w.clock.Now())
			if holding {
				cancel(errHeldBack)
				return
			}
			select {
			case <-rctx.Done():
				return
			case <-changed:
			}
		}
	}()
	return done
}

// noteLock learns the queue's lock duration from a message just received.
func (w *Worker) noteLock(m *azservicebus.ReceivedMessage) {
	if m.LockedUntil == nil {
		return
	}
	d := m.LockedUntil.Sub(w.clock.Now())
	for {
		cur := w.lockNanos.Load()
		if int64(d) <= cur || w.lockNanos.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// intakeWake is the longest intake waits for room without looking again.
const intakeWake = time.Second

// dispatch starts one goroutine per message; epoch is the Service Bus
// connection epoch from before the receive call.
func (w *Worker) dispatch(msgs []*azservicebus.ReceivedMessage, epoch int64) {
	for _, m := range msgs {
		w.noteLock(m)
		w.inFlight.Add(1)
		w.metrics.inFlight.Inc()
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer func() {
				w.inFlight.Add(-1)
				w.metrics.inFlight.Dec()
				select {
				case w.slotFreed <- struct{}{}:
				default:
				}
			}()
			w.process(m, epoch)
		}()
	}
}
