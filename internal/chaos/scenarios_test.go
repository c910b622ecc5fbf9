package chaos

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/faultproxy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// every runs f every d until stop is closed, and returns a function that
// stops it and waits.
func every(d time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				f()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// since is t-from rounded, 0 when t is zero.
func since(from, t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(from).Round(10 * time.Millisecond)
}

// cutSetup is the system of the acceptance run: 300 messages,
// concurrency 2, Graph answering in 150 ms (about 13 messages a second, so
// the drain spans several cuts).
func cutSetup() setup {
	return setup{messages: 300, concurrency: 2, latency: 150 * time.Millisecond}
}

// TestConnectionCuts drains 300 messages fault-free, then again while the
// proxy cuts every Service Bus connection every 5 s: nothing lost, at most
// one duplicate Graph call, and the drain within 1.5× the fault-free time.
func TestConnectionCuts(t *testing.T) {
	t.Parallel()
	var faultFree time.Duration
	t.Run("fault-free", func(t *testing.T) {
		h := newHarness(t, cutSetup())
		h.start()
		faultFree = h.waitDrained(time.Minute)
		h.stopAll()
		h.check("fault-free", 0, faultFree, 0)
	})
	require.NotZero(t, faultFree)
	t.Run("cuts", func(t *testing.T) {
		h := newHarness(t, cutSetup())
		h.start()
		cuts, conns := 0, 0 // written by every's goroutine; read after stop waits for it
		stop := every(5*time.Second, func() {
			cuts++
			conns += h.proxy.Cut()
		})
		// Cut until the queue drains or the bound has passed; then stop
		// cutting and wait for the rest, so a miss still yields its figures.
		bound := time.Duration(1.5 * float64(faultFree))
		inTime := h.drainedWithin(bound - time.Since(h.started))
		stop()
		drain := h.waitDrained(2 * time.Minute)
		h.stopAll()
		t.Logf("%d cuts closed %d connections; drained while cutting: %v", cuts, conns, inTime)
		rep := h.check("connection cuts every 5s", cuts, drain, faultFree)
		assert.LessOrEqual(t, rep.Duplicates, 1)
		assert.Positive(t, cuts)
		assert.True(t, inTime, "drain %s vs fault-free %s: more than 1.5×", drain, faultFree)
	})
}

// TestWorkerKilledAndRestarted SIGKILLs the only worker at random moments
// (1-3 s apart, five times) and starts a new one at once each time.
// Duplicates are allowed only where a kill explains them.
func TestWorkerKilledAndRestarted(t *testing.T) {
	t.Parallel()
	rnd := newRand(t)
	h := newHarness(t, setup{messages: 200, latency: 100 * time.Millisecond, lock: 5 * time.Second})
	h.start()
	kills := 0
	for range 5 {
		time.Sleep(time.Second + time.Duration(rnd.Int64N(int64(2*time.Second))))
		if h.drained() {
			break
		}
		h.kill(h.running()[0])
		kills++
		h.startWorker()
	}
	drain := h.waitDrained(time.Minute)
	h.stopAll()
	h.check("worker SIGKILL and restart", kills, drain, 0)
	assert.Positive(t, kills)
}

// TestBlackhole holds every Service Bus connection open with nothing
// forwarded for 35 s, longer than the 30 s within which /readyz must say
// servicebus_disconnected, then forwards again: /readyz must go 503 during
// the blackhole and back to 200 within 10 s of its end, and every message
// must still end completed.
func TestBlackhole(t *testing.T) {
	t.Parallel()
	const hold = 35 * time.Second
	h := newHarness(t, setup{messages: 150, latency: 100 * time.Millisecond, lock: 10 * time.Second})
	h.start()
	h.waitReady(h.running()[0], 30*time.Second)
	time.Sleep(2 * time.Second)
	begin := time.Now()
	h.proxy.SetMode(faultproxy.Blackhole)
	time.Sleep(hold)
	h.proxy.SetMode(faultproxy.Forward)
	end := time.Now()
	drain := h.waitDrained(2 * time.Minute)
	h.stopAll()
	h.check("blackhole 35s", 1, drain, 0)
	var down, up time.Time
	for _, tr := range h.transitions() {
		if down.IsZero() && tr.From == "ready" && tr.At.After(begin) {
			down = tr.At
		}
		if !down.IsZero() && up.IsZero() && tr.To == "ready" && tr.At.After(down) {
			up = tr.At
		}
	}
	t.Logf("blackhole from +%s to +%s; /readyz 503 %s after it began, 200 again %s after it ended (zero: never)",
		begin.Sub(h.started).Round(10*time.Millisecond), end.Sub(h.started).Round(10*time.Millisecond),
		since(begin, down), since(end, up))
	if assert.False(t, down.IsZero(), "/readyz never left 200 during a %s blackhole", hold) {
		assert.Less(t, down.Sub(begin), 30*time.Second, "not ready only %s into the blackhole", down.Sub(begin))
		if assert.False(t, up.IsZero(), "/readyz never came back") {
			assert.Less(t, up.Sub(end), 10*time.Second, "ready again %s after the blackhole", up.Sub(end))
		}
	}
}

// TestCompetingWorkersOneTerminated runs three workers on one queue and
// SIGTERMs one once a third of the messages are done: it must exit 0
// having abandoned what it held, and the others finish the rest with no
// duplicate Graph call (there is no kill to explain one).
func TestCompetingWorkersOneTerminated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{messages: 300, workers: 3, latency: 100 * time.Millisecond})
	h.start()
	require.Eventually(t, func() bool { return h.gs.QuotaStats().Succeeded >= 100 }, time.Minute, 20*time.Millisecond)
	victim := h.running()[1]
	require.NoError(t, h.terminate(victim), "a SIGTERMed worker exits 0")
	drain := h.waitDrained(time.Minute)
	h.stopAll()
	rep := h.check("3 workers, one SIGTERMed", 1, drain, 0)
	assert.Zero(t, rep.Duplicates)
	assert.Equal(t, 1, logLines(t, victim, "worker stopped"), "the SIGTERMed worker stopped gracefully")
}

// graphFaultSetup is the system of the Graph fault scenarios: 100
// messages, Graph answering in 20 ms.
func graphFaultSetup(script func(gs *graphsim.Server, users []string), env ...string) setup {
	return setup{messages: 100, latency: 20 * time.Millisecond, script: script, env: env}
}

// TestGraphHangsPastTimeout makes every tenth user's first call hang for
// 5 s against a 1 s Graph timeout (retried, then 200), and the first user's
// calls hang for ever (dead-lettered RetriesExhausted once the 4 s budget is
// spent).
func TestGraphHangsPastTimeout(t *testing.T) {
	t.Parallel()
	faults := 0
	h := newHarness(t, graphFaultSetup(func(gs *graphsim.Server, users []string) {
		for i := 5; i < len(users); i += 10 {
			gs.Script(users[i], graphsim.Response{Delay: 5 * time.Second})
			faults++
		}
		gs.Forever(users[0], graphsim.Response{Delay: 5 * time.Second}) // first, so healthy calls run during its budget
	}, "LICENSEFIX_GRAPH_TIMEOUT=1s", "LICENSEFIX_MAX_RETRY_DURATION=4s"))
	h.start()
	drain := h.waitDrained(time.Minute)
	h.stopAll()
	faults += h.gs.Calls(h.users[0])
	rep := h.check("Graph hangs past the timeout", faults, drain, 0)
	assert.Equal(t, 1, rep.DeadLettered)
	assert.Equal(t, 99, rep.Completed)
}

// TestGraphConnectionResets resets the connection on the first two calls
// of every tenth user (retried, then 200) and answers three users 404 (dead-
// lettered UserNotFound).
func TestGraphConnectionResets(t *testing.T) {
	t.Parallel()
	faults := 0
	h := newHarness(t, graphFaultSetup(func(gs *graphsim.Server, users []string) {
		for i := 3; i < len(users); i += 10 {
			gs.Script(users[i], graphsim.Response{Reset: true}, graphsim.Response{Reset: true})
			faults += 2
		}
		for _, i := range []int{7, 50, 96} {
			gs.Forever(users[i], graphsim.Response{Status: http.StatusNotFound})
		}
	}))
	h.start()
	drain := h.waitDrained(time.Minute)
	h.stopAll()
	rep := h.check("Graph connection resets", faults, drain, 0)
	assert.Equal(t, 3, rep.DeadLettered)
	assert.Equal(t, 97, rep.Completed)
}

// TestGraph429FractionalRetryAfter puts the tenant under a 20/s quota
// (whose 429s carry the fractional time until the next token, such as
// 0.049) while four calls run at once at 20 ms each (up to 200/s), and
// answers five users' first call 429 with Retry-After 0.35.
func TestGraph429FractionalRetryAfter(t *testing.T) {
	t.Parallel()
	s := graphFaultSetup(func(gs *graphsim.Server, users []string) {
		for i := 10; i < len(users); i += 20 {
			gs.Script(users[i], graphsim.Throttled("0.35"))
		}
		require.NoError(t, gs.SetQuota(graphsim.Quota{Rate: 20, Burst: 2}))
	})
	s.concurrency = 4
	h := newHarness(t, s)
	h.start()
	drain := h.waitDrained(time.Minute)
	h.stopAll()
	throttled := 0
	for _, r := range h.gs.Requests() {
		if r.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	rep := h.check("Graph 429 with fractional Retry-After", throttled, drain, 0)
	assert.Equal(t, 100, rep.Completed)
	assert.GreaterOrEqual(t, throttled, 5)
}
