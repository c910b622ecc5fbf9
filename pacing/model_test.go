package pacing

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"
)

// quotaModel is a quota like graphsim's: a token bucket refilled at rate
// per second up to burst, charged for every request including throttled
// ones (down to a debt of -burst), answering 429 when less than one token
// is left, with Retry-After the time until one is back, and reporting usage
// on successes above 0.8.
type quotaModel struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (q *quotaModel) refill(now time.Time) {
	q.tokens = math.Min(q.burst, q.tokens+now.Sub(q.last).Seconds()*q.rate)
	q.last = now
}

// call charges one request at now and answers it.
func (q *quotaModel) call(now time.Time) (ok bool, usage float64, retryAfter time.Duration) {
	q.refill(now)
	ok = q.tokens >= 1
	q.tokens = math.Max(q.tokens-1, -q.burst)
	if !ok {
		return false, 0, time.Duration((1 - q.tokens) / q.rate * float64(time.Second))
	}
	u := (q.burst - q.tokens) / q.burst
	if u <= 0.8 {
		u = 0
	}
	return true, math.Min(u, 1.8), 0
}

// event is one thing that happens in the simulation.
type event struct {
	at  time.Time
	seq int
	run func()
}

type events []*event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if !e[i].at.Equal(e[j].at) {
		return e[i].at.Before(e[j].at)
	}
	return e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(*event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// simulation runs replicas, each with its own Limiter and concurrency
// slots that call as fast as their limiter lets them, against one quota.
type simulation struct {
	now     time.Time
	queue   events
	seq     int
	quota   *quotaModel
	latency time.Duration
	rnd     *rand.Rand

	demand    int       // stop after this many successes (0 = never)
	done      time.Time // when demand was met
	start     time.Time
	successes []int // per replica
	throttled []int
	calls     int
}

func (s *simulation) at(t time.Time, f func()) {
	s.seq++
	heap.Push(&s.queue, &event{at: t, seq: s.seq, run: f})
}

// jitter returns the latency with ±20 % noise.
func (s *simulation) jitter() time.Duration {
	return time.Duration(float64(s.latency) * (0.8 + 0.4*s.rnd.Float64()))
}

// slot is one concurrency slot of replica r looping acquire → call.
func (s *simulation) slot(r int, l *Limiter) {
	var acquire func()
	acquire = func() {
		if s.demand > 0 && sum(s.successes) >= s.demand {
			if s.done.IsZero() {
				s.done = s.now
			}
			return
		}
		ok, wait := l.Take(s.now)
		if !ok {
			s.at(s.now.Add(wait), acquire)
			return
		}
		lat := s.jitter()
		// The quota is charged halfway, the answer arrives at the end.
		s.at(s.now.Add(lat/2), func() {
			s.calls++
			ok, usage, ra := s.quota.call(s.now)
			s.at(s.now.Add(lat/2), func() {
				if ok {
					s.successes[r]++
					l.OnSuccess(s.now, usage)
				} else {
					s.throttled[r]++
					l.OnThrottled(s.now, ra)
				}
				acquire()
			})
		})
	}
	acquire()
}

// run simulates replicas×concurrency callers for d, calling step (if not
// nil) at each whole second with the elapsed seconds.
func runSimulation(replicas, concurrency int, quotaRate, burst float64, latency, d time.Duration, cfg Config, step func(s *simulation, sec int)) *simulation {
	return runDemand(0, replicas, concurrency, quotaRate, burst, latency, d, cfg, step)
}

// runDemand is runSimulation that stops calling after demand successes.
func runDemand(demand, replicas, concurrency int, quotaRate, burst float64, latency, d time.Duration, cfg Config, step func(s *simulation, sec int)) *simulation {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := &simulation{
		demand:    demand,
		start:     start,
		now:       start,
		quota:     &quotaModel{rate: quotaRate, burst: burst, tokens: burst, last: start},
		latency:   latency,
		rnd:       rand.New(rand.NewPCG(1, 2)),
		successes: make([]int, replicas),
		throttled: make([]int, replicas),
	}
	for r := range replicas {
		l := New(cfg, start)
		for range concurrency {
			s.slot(r, l)
		}
	}
	if step != nil {
		for sec := 1; time.Duration(sec)*time.Second < d; sec++ {
			s.at(start.Add(time.Duration(sec)*time.Second), func() { step(s, sec) })
		}
	}
	end := start.Add(d)
	for s.queue.Len() > 0 {
		e := heap.Pop(&s.queue).(*event)
		if e.at.After(end) {
			break
		}
		s.now = e.at
		e.run()
	}
	return s
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}
