package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/sbconn"
	"github.com/licensefix/licensefix/messages"
	"github.com/licensefix/licensefix/retry"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/licensefix/licensefix/worker"
)

func init() {
	register(command{name: "dev", summary: "self-contained demo: emulator + Graph simulator + worker + sample messages", run: runDev})
}

// devDownUser is answered 503 for ever by the demo's simulator, so that its
// retry budget runs out while everyone else is served (RetriesExhausted).
const devDownUser = "down@contoso.onmicrosoft.com"

// devOnceGone ends the summary of `dev --once`: the in-memory emulator
// stops with the demo, so there is nothing left to inspect.
const devOnceGone = "The emulator has stopped with the demo (--once), and its dead letters with it.\n" +
	"To inspect them, run 'licensefix dev' without --once: it keeps the emulator running until Ctrl-C,\n" +
	"so 'licensefix dlq list --summary' works with the connection string above."

// devQueue is the queue the demo uses.
const devQueue = "license-fixed"

// sample is one message of the demo's sample set.
type sample struct {
	what        string
	body        []byte
	contentType string
	props       map[string]any
}

// devSamples is the demo's sample set: what a real queue sees on a bad day.
func devSamples() ([]sample, error) {
	plain := func(what, user string) (sample, error) {
		b, err := messages.Encode(messages.LicenseFixed{UserID: user, Source: "licensefix-dev", Reason: "demo"})
		return sample{what: what, body: b, contentType: messages.ContentTypeJSON}, err
	}
	var out []sample
	for _, s := range []struct{ what, user string }{
		{"object id", graphsim.DemoHealthyUser1},
		{"object id", graphsim.DemoHealthyUser2},
		{"userPrincipalName", graphsim.DemoUPNUser},
		{"B2B guest (#EXT#)", graphsim.DemoGuestUser},
		{"throttled user (429, Retry-After)", graphsim.DemoThrottledUser},
		{"flaky user (503 twice)", graphsim.DemoFlakyUser},
		{"unknown user (404)", graphsim.DemoUnknownUser},
		{"rejected user (400)", graphsim.DemoRejectedUser},
		{"user whose calls always fail (503)", devDownUser},
	} {
		smp, err := plain(s.what, s.user)
		if err != nil {
			return nil, err
		}
		out = append(out, smp)
	}
	ce, err := messages.EncodeCloudEvent(messages.LicenseFixed{UserID: graphsim.DemoHealthyUser3}, "demo-cloudevent-1", "/licensefix/dev", "com.licensefix.user.license-fixed")
	if err != nil {
		return nil, err
	}
	out = append(out,
		sample{what: "CloudEvent (structured)", body: ce, contentType: messages.ContentTypeCloudEvent},
		sample{what: "CloudEvent (binary)", body: []byte(`{"userId":"` + graphsim.DemoHealthyUser1 + `"}`), contentType: messages.ContentTypeJSON,
			props: map[string]any{"cloudEvents:specversion": "1.0", "cloudEvents:id": "demo-cloudevent-2", "cloudEvents:source": "/licensefix/dev", "cloudEvents:type": "com.licensefix.user.license-fixed"}},
		sample{what: "malformed: not JSON", body: []byte("user=alice"), contentType: messages.ContentTypeJSON},
		sample{what: "malformed: path traversal id", body: []byte(`{"userId":"../../me"}`), contentType: messages.ContentTypeJSON},
		sample{what: "malformed: missing userId", body: []byte(`{"source":"hr"}`), contentType: messages.ContentTypeJSON},
	)
	return out, nil
}

func runDev(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("dev")
	var once bool
	var httpAddr, emulatorAddr string
	var maxRetry time.Duration
	var pacingUsers int
	s.Bool(&once, "once", "LICENSEFIX_DEV_ONCE", false, "exit 0 once the sample set is settled instead of running until Ctrl-C")
	s.String(&httpAddr, "http-addr", "LICENSEFIX_HTTP_ADDR", "127.0.0.1:0", "listen address for the worker's /livez, /readyz and /metrics")
	s.String(&emulatorAddr, "emulator-listen", "LICENSEFIX_EMULATOR_LISTEN", "127.0.0.1:0", "listen address of the in-process Service Bus emulator")
	s.Duration(&maxRetry, "max-retry-duration", "LICENSEFIX_MAX_RETRY_DURATION", 8*time.Second, "retry budget per message (short in the demo so RetriesExhausted shows up)")
	s.Int(&pacingUsers, "pacing-users", "LICENSEFIX_DEV_PACING_USERS", 300, "messages for distinct users sent after the samples, against a simulated quota of 20 calls/s, to show the pacing adapt (0 = skip)")
	ls := addLogSettings(s)
	if err := s.Parse(args); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usagef("dev takes no arguments, got %q", s.Args())
	}
	if pacingUsers < 0 {
		return s.Invalid("LICENSEFIX_DEV_PACING_USERS", "must be >= 0, got %d", pacingUsers)
	}
	if maxRetry <= 0 {
		return s.Invalid("LICENSEFIX_MAX_RETRY_DURATION", "must be positive")
	}
	logger, err := ls.logger(s, e.Stderr)
	if err != nil {
		return err
	}

	emu, err := sbemu.NewServer(&sbemu.Options{Addr: emulatorAddr, Logger: logger.With(slog.String("component", "emulator"))})
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	defer emu.Close()
	sim, err := graphsim.NewServer(graphsim.Options{})
	if err != nil {
		return fmt.Errorf("start graph simulator: %w", err)
	}
	defer sim.Close()
	sim.LoadScenario(graphsim.DemoScenario())
	sim.Forever(devDownUser, graphsim.Response{Status: http.StatusServiceUnavailable})

	gclient, err := graph.New(graph.Config{RootURL: sim.URL, Auth: graph.AuthNone, UserAgent: "licensefix/" + orDev(e.Version)})
	if err != nil {
		return err
	}
	cfg := worker.Config{
		Concurrency: 8,
		Retry:       retry.Policy{InitialInterval: 250 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsed: maxRetry, Multiplier: 2},
		ReceiveWait: 2 * time.Second,
		// Show the limiter adapting in the demo's log.
		PacingLogInterval: time.Second,
	}
	sbOpts := sbconn.Options{ConnectionString: emu.ConnectionString()}

	fmt.Fprintf(e.Stdout, "licensefix dev: Service Bus emulator on %s, Graph simulator at %s\n", emu.Addr(), sim.URL)
	fmt.Fprintf(e.Stdout, "  send more: LICENSEFIX_SERVICEBUS_CONNECTION_STRING='%s' licensefix send --user-id <id>\n", emu.ConnectionString())

	runCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	served := make(chan error, 1)
	go func() { served <- serve(runCtx, logger, sbOpts, entity{queue: devQueue}, httpAddr, cfg, gclient) }()

	samples, err := devSamples()
	if err != nil {
		return err
	}
	if err := sendSamples(ctx, sbOpts, samples, e.Stdout); err != nil {
		stopWorker()
		<-served
		return err
	}

	settled, workerDone, workerErr := waitSettled(ctx, emu, served)
	if workerDone {
		return workerErr
	}
	if settled {
		if err := printDevSummary(ctx, e.Stdout, sbOpts, len(samples), sim, once); err != nil {
			logger.Warn("summary failed", slog.String("error", err.Error()))
		}
		if pacingUsers > 0 {
			if done, err := pacingDemo(ctx, e.Stdout, sbOpts, emu, sim, pacingUsers, served); done {
				return err
			} else if err != nil {
				logger.Warn("pacing demo failed", slog.String("error", err.Error()))
			}
		}
		if !once {
			fmt.Fprintln(e.Stdout, "The worker keeps running; press Ctrl-C to stop.")
			select {
			case <-ctx.Done():
			case err := <-served:
				return err
			}
		}
	}
	stopWorker()
	return <-served
}

// sendSamples enqueues the sample set with the real SDK.
func sendSamples(ctx context.Context, sbOpts sbconn.Options, samples []sample, out io.Writer) error {
	client, err := sbconn.NewClient(sbOpts)
	if err != nil {
		return err
	}
	defer client.Close(context.WithoutCancel(ctx))
	sender, err := client.NewSender(devQueue, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Sending %d sample messages:\n", len(samples))
	for i, smp := range samples {
		ct := smp.contentType
		id := fmt.Sprintf("dev-sample-%02d", i+1)
		if err := sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: smp.body, ContentType: &ct, ApplicationProperties: smp.props}, nil); err != nil {
			return fmt.Errorf("send sample %d: %w", i+1, err)
		}
		fmt.Fprintf(out, "  %s  %s\n", id, smp.what)
	}
	return nil
}

// waitSettled waits until the queue holds nothing (every sample completed or
// dead-lettered). It returns false if ctx ended first, and the worker's
// result if the worker stopped first.
func waitSettled(ctx context.Context, emu *sbemu.Server, served <-chan error) (settled, workerDone bool, workerErr error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := emu.QueueStats(devQueue)
		if err == nil && st.Active+st.Locked+st.Deferred+st.Scheduled == 0 {
			return true, false, nil
		}
		select {
		case <-ctx.Done():
			return false, false, nil
		case err := <-served:
			return false, true, err
		case <-tick.C:
		}
	}
}

// printDevSummary prints outcomes by reason, read back from the queue's
// dead-letter queue with the same code `licensefix dlq list` uses.
func printDevSummary(ctx context.Context, out io.Writer, sbOpts sbconn.Options, sent int, sim *graphsim.Server, once bool) error {
	client, err := sbconn.NewClient(sbOpts)
	if err != nil {
		return err
	}
	defer client.Close(context.WithoutCancel(ctx))
	peeker, err := client.NewReceiverForQueue(devQueue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		return err
	}
	entries, err := dlq.List(ctx, peeker, dlq.Filter{}, nil)
	if err != nil {
		return err
	}
	byReason := map[string]int{}
	for _, en := range entries {
		byReason[en.Reason]++
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	fmt.Fprintf(out, "\nSummary: %d messages, %d Graph calls\n", sent, len(sim.Requests()))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  outcome\treason\tcount\n")
	fmt.Fprintf(tw, "  completed\t\t%d\n", sent-len(entries))
	for _, r := range reasons {
		fmt.Fprintf(tw, "  dead-lettered\t%s\t%d\n", r, byReason[r])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if once {
		// The emulator, and every message in it, ends with this process.
		fmt.Fprintln(out, devOnceGone)
		return nil
	}
	fmt.Fprintln(out, "Inspect them with: licensefix dlq list --summary (same connection string as above)")
	return nil
}

// devQuota is the simulated Graph quota of the pacing demo.
var devQuota = graphsim.Quota{Rate: 20, Burst: 20}

// pacingDemo sends n messages for distinct users against devQuota and
// prints, each second, the calls Graph accepted and throttled, until the
// queue is drained. done reports that the worker stopped (with its error).
func pacingDemo(ctx context.Context, out io.Writer, sbOpts sbconn.Options, emu *sbemu.Server, sim *graphsim.Server, n int, served <-chan error) (done bool, err error) {
	if err := sim.SetQuota(devQuota); err != nil {
		return false, err
	}
	client, err := sbconn.NewClient(sbOpts)
	if err != nil {
		return false, err
	}
	defer client.Close(context.WithoutCancel(ctx))
	sender, err := client.NewSender(devQueue, nil)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(out, "\nPacing: %d messages for distinct users against a simulated Graph quota of %g calls/s (Graph's real one is about 20/s per app and tenant).\n", n, devQuota.Rate)
	fmt.Fprintln(out, "The worker starts at LICENSEFIX_GRAPH_INITIAL_RATE, speeds up until Graph signals >80 % usage, then holds just below the quota:")
	batch, err := sender.NewMessageBatch(ctx, nil)
	if err != nil {
		return false, err
	}
	ct := "application/json"
	for i := range n {
		body, err := messages.Encode(messages.LicenseFixed{UserID: fmt.Sprintf("pacing-%04d@contoso.com", i), Source: "licensefix-dev", Reason: "pacing demo"})
		if err != nil {
			return false, err
		}
		id := fmt.Sprintf("dev-pacing-%04d", i)
		msg := &azservicebus.Message{MessageID: &id, Body: body, ContentType: &ct}
		if err := batch.AddMessage(msg, nil); err != nil {
			if err := sender.SendMessageBatch(ctx, batch, nil); err != nil {
				return false, err
			}
			if batch, err = sender.NewMessageBatch(ctx, nil); err != nil {
				return false, err
			}
			if err := batch.AddMessage(msg, nil); err != nil {
				return false, err
			}
		}
	}
	if batch.NumMessages() > 0 {
		if err := sender.SendMessageBatch(ctx, batch, nil); err != nil {
			return false, err
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastOK, lastThrottled int64
	for sec := 1; ; sec++ {
		select {
		case <-ctx.Done():
			return false, nil
		case err := <-served:
			return true, err
		case <-tick.C:
		}
		st := sim.QuotaStats()
		fmt.Fprintf(out, "  %3ds  accepted %3d/s  throttled %2d\n", sec, st.Accepted-lastOK, st.Throttled-lastThrottled)
		lastOK, lastThrottled = st.Accepted, st.Throttled
		if qs, err := emu.QueueStats(devQueue); err == nil && qs.Active+qs.Locked+qs.Deferred+qs.Scheduled == 0 {
			fmt.Fprintf(out, "Pacing: %d calls accepted, %d throttled (%.1f %%), in %ds.\n", st.Accepted, st.Throttled,
				100*float64(st.Throttled)/max(1, float64(st.Calls)), sec)
			return false, nil
		}
	}
}
