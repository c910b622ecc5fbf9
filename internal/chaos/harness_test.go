package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/faultproxy"
	"github.com/licensefix/licensefix/internal/testutil"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/stretchr/testify/require"
)

var (
	seedFlag    = flag.Uint64("chaos.seed", 0, "seed of the random fault moments (0: from the clock; the seed used is logged)")
	binFlag     = flag.String("chaos.bin", "", "a licensefix binary to test instead of building cmd/licensefix")
	figuresFlag = flag.String("chaos.figures", "", "a file to append each scenario's FIGURES line to")
	logsFlag    = flag.String("chaos.logs", "", "a directory to copy every worker's log to")
)

// The worker binary, built once per test binary on first use.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// binary builds cmd/licensefix (without -race: the process under test is
// the production build) and returns its path.
func binary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		if *binFlag != "" {
			binPath = *binFlag
			return
		}
		binDir, binErr = os.MkdirTemp("", "licensefix-chaos-")
		if binErr != nil {
			return
		}
		binPath, binErr = testutil.BuildLicensefix(binDir)
	})
	require.NoError(tb, binErr)
	return binPath
}

// cleanupBinary removes the built binary and exits (goleak.Cleanup).
func cleanupBinary(code int) {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// newRand returns the random source of one scenario, logging its seed.
func newRand(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("fault seed %d (repeat with -chaos.seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// setup describes one scenario's system.
type setup struct {
	messages    int
	workers     int           // started by start; default 1
	concurrency int           // LICENSEFIX_CONCURRENCY; default 2
	latency     time.Duration // Graph latency
	lock        time.Duration // the queue's lock duration; default 30s
	env         []string      // extra worker settings, NAME=value
	// script prepares Graph's answers for the users (users[i] belongs to
	// message i).
	script func(gs *graphsim.Server, users []string)
}

const maxDelivery = 10

// harness is one scenario's system: the emulator (in-process, reached by
// the workers through a fault proxy), the Graph simulator (in-process) and
// the worker subprocesses.
type harness struct {
	t       *testing.T
	s       setup
	sb      *sbemu.Server
	gs      *graphsim.Server
	proxy   *faultproxy.Proxy
	client  *azservicebus.Client // direct to the emulator, for sending and the final peek
	connStr string               // through the proxy, for the workers
	dir     string
	sent    []Message
	users   []string
	started time.Time // first worker start

	mu      sync.Mutex
	workers []*proc
	kills   []Kill
	n       int // workers started so far
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	if s.workers == 0 {
		s.workers = 1
	}
	if s.concurrency == 0 {
		s.concurrency = 2
	}
	if s.lock == 0 {
		s.lock = 30 * time.Second
	}
	binary(t) // build first: a build failure should not wait for the emulator
	cfg := sbemu.DefaultConfig()
	cfg.UserConfig.Namespaces[0].Queues[0].Properties.LockDuration = sbemu.Duration(s.lock)
	cfg.UserConfig.Namespaces[0].Queues[0].Properties.MaxDeliveryCount = maxDelivery
	sb, err := sbemu.NewServer(&sbemu.Options{TB: t, Config: cfg})
	require.NoError(t, err)
	gs, err := graphsim.NewServer(graphsim.Options{Latency: s.latency})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })
	proxy, err := faultproxy.New(sb.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), &azservicebus.ClientOptions{
		RetryOptions: azservicebus.RetryOptions{RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 500 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})
	h := &harness{t: t, s: s, sb: sb, gs: gs, proxy: proxy, client: client, dir: t.TempDir(),
		connStr: strings.Replace(sb.ConnectionString(), sb.Addr(), proxy.Addr(), 1)}
	require.NotEqual(t, sb.ConnectionString(), h.connStr, "the workers must go through the proxy")
	t.Cleanup(h.killAll)
	t.Cleanup(h.dumpOnFailure) // runs before killAll: cleanups run last first
	t.Cleanup(h.keepLogs)
	prefix := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	for i := range s.messages {
		user := fmt.Sprintf("%s-%04d@contoso.com", prefix, i)
		h.users = append(h.users, user)
		h.sent = append(h.sent, Message{ID: fmt.Sprintf("m-%04d", i), UserID: user})
	}
	if s.script != nil {
		s.script(gs, h.users)
	}
	h.send(h.sent)
	return h
}

// send sends msgs to the queue directly (not through the proxy).
func (h *harness) send(msgs []Message) {
	t := h.t
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sender, err := h.client.NewSender(sbemu.DefaultQueueName, nil)
	require.NoError(t, err)
	defer func() { _ = sender.Close(ctx) }()
	batch, err := sender.NewMessageBatch(ctx, nil)
	require.NoError(t, err)
	ct := "application/json"
	for _, m := range msgs {
		id := m.ID
		msg := &azservicebus.Message{MessageID: &id, ContentType: &ct, Body: fmt.Appendf(nil, `{"userId":%q}`, m.UserID)}
		if err := batch.AddMessage(msg, nil); err != nil {
			require.NoError(t, sender.SendMessageBatch(ctx, batch, nil))
			batch, err = sender.NewMessageBatch(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, batch.AddMessage(msg, nil))
		}
	}
	if batch.NumMessages() > 0 {
		require.NoError(t, sender.SendMessageBatch(ctx, batch, nil))
	}
}

// start starts the setup's workers.
func (h *harness) start() {
	for range h.s.workers {
		h.startWorker()
	}
}

// proc is one worker subprocess.
type proc struct {
	name     string
	httpAddr string
	logPath  string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when Wait returned
	waitErr  error         // set before exited is closed
	polled   chan struct{} // closed when the readiness poller ended

	mu          sync.Mutex
	state       string // last /readyz state seen, "" before the first answer
	transitions []transition
}

// transition is one change of a worker's /readyz answer.
type transition struct {
	At       time.Time
	From, To string // "ready" or "not_ready:<reason>"
}

// startWorker starts one more worker process.
func (h *harness) startWorker() *proc {
	t := h.t
	h.mu.Lock()
	h.n++
	p := &proc{name: fmt.Sprintf("w%d", h.n), httpAddr: testutil.FreeAddr(t), exited: make(chan struct{}), polled: make(chan struct{})}
	h.mu.Unlock()
	p.logPath = filepath.Join(h.dir, p.name+".log")
	logFile, err := os.Create(p.logPath)
	require.NoError(t, err)
	defer logFile.Close()
	cmd := exec.Command(binary(t), "run")
	cmd.Env = append(os.Environ(),
		"LICENSEFIX_SERVICEBUS_CONNECTION_STRING="+h.connStr,
		"LICENSEFIX_GRAPH_URL="+h.gs.URL,
		"LICENSEFIX_GRAPH_AUTH=none",
		"LICENSEFIX_HTTP_ADDR="+p.httpAddr,
		"LICENSEFIX_LOG_FORMAT=json",
		"LICENSEFIX_LOG_LEVEL=info",
		fmt.Sprintf("LICENSEFIX_CONCURRENCY=%d", h.s.concurrency),
		"LICENSEFIX_GRAPH_INITIAL_RATE=50",
		"LICENSEFIX_SHUTDOWN_TIMEOUT=10s",
		"LICENSEFIX_RETRY_INITIAL_INTERVAL=100ms",
		"LICENSEFIX_RETRY_MAX_INTERVAL=1s",
		"LICENSEFIX_RECEIVE_WAIT=2s",
	)
	cmd.Env = append(cmd.Env, h.s.env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	p.cmd = cmd
	h.mu.Lock()
	if h.started.IsZero() {
		h.started = time.Now()
	}
	h.workers = append(h.workers, p)
	h.mu.Unlock()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	go p.pollReadiness()
	return p
}

// pollReadiness records the transitions of /readyz every 100 ms until the
// process exits.
func (p *proc) pollReadiness() {
	defer close(p.polled)
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.exited:
			client.CloseIdleConnections()
			return
		case <-tick.C:
		}
		st := readyState(client, p.httpAddr)
		if st == "" {
			continue
		}
		p.mu.Lock()
		if p.state != "" && p.state != st {
			p.transitions = append(p.transitions, transition{At: time.Now(), From: p.state, To: st})
		}
		p.state = st
		p.mu.Unlock()
	}
}

// readyState is the worker's /readyz answer as "ready" or
// "not_ready:<reason>", "" when it did not answer.
func readyState(client *http.Client, addr string) string {
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return ""
	}
	if resp.StatusCode == http.StatusOK && body.Ready {
		return "ready"
	}
	return "not_ready:" + body.Reason
}

// waitReady waits until p answers ready.
func (h *harness) waitReady(p *proc, within time.Duration) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.state == "ready"
	}, within, 50*time.Millisecond, "%s never became ready", p.name)
}

// running lists the workers that have not exited.
func (h *harness) running() []*proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*proc
	for _, p := range h.workers {
		select {
		case <-p.exited:
		default:
			out = append(out, p)
		}
	}
	return out
}

// kill SIGKILLs p and waits for it to exit.
func (h *harness) kill(p *proc) {
	h.mu.Lock()
	h.kills = append(h.kills, Kill{Time: time.Now(), Worker: p.name})
	h.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	<-p.polled
}

// terminate SIGTERMs p and waits for it to exit (a graceful stop),
// returning its exit error (nil for exit code 0).
func (h *harness) terminate(p *proc) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		h.kill(p)
		return errors.New(p.name + " did not stop within a minute of SIGTERM")
	}
	<-p.polled
	return p.waitErr
}

// killAll kills whatever still runs (cleanup after a failure).
func (h *harness) killAll() {
	for _, p := range h.running() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		<-p.polled
	}
}

// keepLogs copies the workers' logs to -chaos.logs.
func (h *harness) keepLogs() {
	if *logsFlag == "" {
		return
	}
	h.mu.Lock()
	workers := append([]*proc(nil), h.workers...)
	h.mu.Unlock()
	dir := filepath.Join(*logsFlag, strings.ReplaceAll(h.t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.t.Error(err)
		return
	}
	for _, p := range workers {
		if b, err := os.ReadFile(p.logPath); err == nil {
			_ = os.WriteFile(filepath.Join(dir, p.name+".log"), b, 0o644)
		}
	}
}

// dumpOnFailure logs the queue's counts and the end of every worker's log
// when the test failed.
func (h *harness) dumpOnFailure() {
	if !h.t.Failed() {
		return
	}
	st, err := h.sb.QueueStats(sbemu.DefaultQueueName)
	h.t.Logf("queue at failure: %+v %v; proxy %+v", st, err, h.proxy.Stats())
	h.mu.Lock()
	workers := append([]*proc(nil), h.workers...)
	h.mu.Unlock()
	for _, p := range workers {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			continue
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.Contains(l, `"msg":"message completed"`) && !strings.Contains(l, `"msg":"graph pacing"`) {
				lines = append(lines, l)
			}
		}
		h.t.Logf("%s: last lines of %d (completions and pacing left out):\n%s", p.name, len(lines), strings.Join(lines[max(0, len(lines)-60):], "\n"))
	}
}

// stopAll SIGTERMs every running worker and requires a clean exit.
func (h *harness) stopAll() {
	for _, p := range h.running() {
		require.NoError(h.t, h.terminate(p), "%s exit", p.name)
	}
}

// drained reports whether the queue has nothing active or locked.
func (h *harness) drained() bool {
	st, err := h.sb.QueueStats(sbemu.DefaultQueueName)
	return err == nil && st.Active+st.Locked+st.Deferred+st.Scheduled == 0
}

// waitDrained waits until every message is settled and returns the time
// since the first worker started.
func (h *harness) waitDrained(within time.Duration) time.Duration {
	h.t.Helper()
	require.Eventually(h.t, h.drained, within, 20*time.Millisecond, "the queue did not drain within %s", within)
	return time.Since(h.started)
}

// drainedWithin polls until the queue drains or d passes, and reports
// whether it drained.
func (h *harness) drainedWithin(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if h.drained() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return h.drained()
}

// history gathers the run's History; the workers must have stopped.
func (h *harness) history() History {
	t := h.t
	require.Empty(t, h.running(), "stop the workers before reading the history")
	hist := History{Sent: h.sent, MaxDeliveryCount: maxDelivery}
	for _, r := range h.gs.Requests() {
		if r.API != "" {
			hist.Calls = append(hist.Calls, Call{Time: r.Time, UserID: r.UserID, ClientRequestID: r.ClientRequestID, Status: r.Status})
		}
	}
	h.mu.Lock()
	hist.Kills = append([]Kill(nil), h.kills...)
	workers := append([]*proc(nil), h.workers...)
	h.mu.Unlock()
	for _, p := range workers {
		hist.Outcomes = append(hist.Outcomes, readOutcomes(t, p)...)
	}
	for _, m := range h.peek(azservicebus.SubQueue(0)) {
		hist.Queued = append(hist.Queued, m.MessageID)
	}
	for _, m := range h.peek(azservicebus.SubQueueDeadLetter) {
		d := DeadLetter{MessageID: m.MessageID, DeliveryCount: m.DeliveryCount}
		if m.DeadLetterReason != nil {
			d.Reason = *m.DeadLetterReason
		}
		if s, ok := m.ApplicationProperties[dlq.PropClientRequestID].(string); ok {
			d.ClientRequestID = s
		}
		hist.DeadLetters = append(hist.DeadLetters, d)
	}
	return hist
}

// peek returns every message of the queue or its dead-letter queue.
func (h *harness) peek(sub azservicebus.SubQueue) []*azservicebus.ReceivedMessage {
	t := h.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var opts *azservicebus.ReceiverOptions
	if sub != 0 {
		opts = &azservicebus.ReceiverOptions{SubQueue: sub}
	}
	rcv, err := h.client.NewReceiverForQueue(sbemu.DefaultQueueName, opts)
	require.NoError(t, err)
	defer func() { _ = rcv.Close(ctx) }()
	var out []*azservicebus.ReceivedMessage
	from := int64(0)
	for {
		page, err := rcv.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		from = *page[len(page)-1].SequenceNumber + 1
	}
}

// outcomeKinds maps the worker's outcome log messages to Outcome kinds.
var outcomeKinds = map[string]string{
	"message completed":              OutcomeCompleted,
	"message coalesced":              OutcomeCoalesced,
	"message dead-lettered":          OutcomeDeadLettered,
	"message abandoned":              OutcomeAbandoned,
	"message lock lost; not settled": OutcomeLockLost,
	"message settlement failed":      OutcomeSettleFailed,
}

// readOutcomes parses p's JSON log for outcome lines. A line cut short by
// a SIGKILL is skipped.
func readOutcomes(t *testing.T, p *proc) []Outcome {
	f, err := os.Open(p.logPath)
	require.NoError(t, err)
	defer f.Close()
	var out []Outcome
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var line struct {
			Time            time.Time `json:"time"`
			Msg             string    `json:"msg"`
			MessageID       string    `json:"message_id"`
			ClientRequestID string    `json:"client_request_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if kind, ok := outcomeKinds[line.Msg]; ok {
			out = append(out, Outcome{Time: line.Time, Worker: p.name, MessageID: line.MessageID, Kind: kind, ClientRequestID: line.ClientRequestID})
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// logLines counts the lines of p's log whose msg is msg.
func logLines(t *testing.T, p *proc, msg string) int {
	b, err := os.ReadFile(p.logPath)
	require.NoError(t, err)
	return strings.Count(string(b), `"msg":`+strconv.Quote(msg))
}

// transitions returns every worker's readiness transitions.
func (h *harness) transitions() []transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []transition
	for _, p := range h.workers {
		p.mu.Lock()
		out = append(out, p.transitions...)
		p.mu.Unlock()
	}
	return out
}

// check applies the ledger, requires it to hold, and logs the figures line
// RELIABILITY.md quotes.
func (h *harness) check(fault string, faults int, drain, faultFree time.Duration) Report {
	t := h.t
	hist := h.history()
	rep, err := Check(hist)
	require.NoError(t, err)
	ratio := ""
	if faultFree > 0 {
		ratio = fmt.Sprintf(" fault_free=%s ratio=%.2f", faultFree.Round(10*time.Millisecond), drain.Seconds()/faultFree.Seconds())
	}
	non2xx := 0
	for _, c := range hist.Calls {
		if !is2xx(c.Status) {
			non2xx++
		}
	}
	line := fmt.Sprintf("FIGURES %s: messages=%d faults=%d lost=%d duplicates=%d explained=%d completed=%d dead_lettered=%d queued=%d graph_calls=%d non_2xx=%d readiness_transitions=%d drain=%s%s violations=%d",
		fault, rep.Messages, faults, rep.Lost, rep.Duplicates, rep.ExplainedDuplicates, rep.Completed, rep.DeadLettered, rep.Queued,
		len(hist.Calls), non2xx, len(h.transitions()), drain.Round(10*time.Millisecond), ratio, len(rep.Violations))
	for _, tr := range h.transitions() {
		line += fmt.Sprintf("\n  readiness %s -> %s at +%s", tr.From, tr.To, tr.At.Sub(h.started).Round(10*time.Millisecond))
	}
	for _, v := range rep.Violations {
		line += "\n  violation " + v.String()
	}
	t.Log(line)
	if *figuresFlag != "" {
		f, err := os.OpenFile(*figuresFlag, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		_, err = fmt.Fprintf(f, "%s %s\n", t.Name(), line)
		require.NoError(t, f.Close())
		require.NoError(t, err)
	}
	require.True(t, rep.OK(), "ledger: %s", rep)
	require.Zero(t, rep.Lost)
	return rep
}

// metric reads one unlabelled sample of the worker's /metrics.
func metric(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no sample %s", name)
}

// vmRSS reads VmRSS of pid in KiB.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}
