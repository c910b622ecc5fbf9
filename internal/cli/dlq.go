package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/schollz/progressbar/v3"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/internal/envflag"
	"github.com/licensefix/licensefix/internal/logging"
	"github.com/licensefix/licensefix/internal/sbconn"
)

func init() {
	register(command{name: "dlq", summary: "list (peek), replay or purge the dead-letter queue: dlq list | replay | purge", run: runDLQ,
		subcommands: []string{"list", "replay", "purge"}})
}

const dlqUsage = "Usage: licensefix dlq list [flags] | licensefix dlq replay [flags] | licensefix dlq purge [flags]"

func runDLQ(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 {
		return usagef("dlq needs a subcommand: list, replay or purge")
	}
	switch args[0] {
	case "list":
		return runDLQList(ctx, e, args[1:])
	case "replay":
		return runDLQReplay(ctx, e, args[1:])
	case "purge":
		return runDLQPurge(ctx, e, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(e.Stderr, dlqUsage+"\nRun 'licensefix dlq list --help' (or replay, purge) for their settings.")
		return nil
	default:
		return usagef("unknown dlq subcommand %q (list, replay or purge)", args[0])
	}
}

// filterSettings are the filters list and replay share.
type filterSettings struct {
	reasons, userIDs []string
	since, until     string
}

func addFilterSettings(s *envflag.Set) *filterSettings {
	f := &filterSettings{}
	listSetting(s, &f.reasons, "reason", "LICENSEFIX_DLQ_REASON", "dead-letter reasons ("+strings.Join(dlq.Reasons(), ", ")+")")
	listSetting(s, &f.userIDs, "user-id", "LICENSEFIX_DLQ_USER_ID", "user ids")
	s.String(&f.since, "since", "LICENSEFIX_DLQ_SINCE", "", "enqueued at or after: RFC 3339 time or a duration ago (24h, 7d)")
	s.String(&f.until, "until", "LICENSEFIX_DLQ_UNTIL", "", "enqueued at or before: RFC 3339 time or a duration ago")
	return f
}

func (f *filterSettings) filter(s *envflag.Set, now time.Time) (dlq.Filter, error) {
	out := dlq.Filter{UserIDs: f.userIDs}
	for _, r := range f.reasons {
		canon, ok := dlq.CanonicalReason(r)
		if !ok {
			return out, &envflag.SettingError{Env: "LICENSEFIX_DLQ_REASON", Flag: "reason",
				Err: fmt.Errorf("unknown dead-letter reason %q; valid reasons: %s", r, strings.Join(dlq.Reasons(), ", "))}
		}
		out.Reasons = append(out.Reasons, canon)
	}
	var err error
	if f.since != "" {
		if out.Since, err = dlq.ParseTime(f.since, now); err != nil {
			return out, s.Invalid("LICENSEFIX_DLQ_SINCE", "%v", err)
		}
	}
	if f.until != "" {
		if out.Until, err = dlq.ParseTime(f.until, now); err != nil {
			return out, s.Invalid("LICENSEFIX_DLQ_UNTIL", "%v", err)
		}
	}
	if err := out.Validate(); err != nil {
		return out, s.Invalid("LICENSEFIX_DLQ_UNTIL", "%v", err)
	}
	return out, nil
}

func runDLQList(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("dlq list")
	sb := addServiceBusSettings(s, roleReceive)
	logs := addLogSettings(s)
	fs := addFilterSettings(s)
	var limit int
	var asJSON, summary bool
	var connect time.Duration
	addConnectTimeout(s, &connect)
	s.Int(&limit, "limit", "LICENSEFIX_DLQ_LIMIT", 0, "show at most this many messages (0: all)")
	s.Bool(&asJSON, "json", "LICENSEFIX_DLQ_JSON", false, "print JSON (every field and application property) instead of a table")
	s.Bool(&summary, "summary", "LICENSEFIX_DLQ_SUMMARY", false, "print counts by reason (and Graph error code) instead of messages")
	if err := s.Parse(args); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usagef("unexpected argument %q", s.Args()[0])
	}
	if _, err := logs.logger(s, e.Stderr); err != nil {
		return err
	}
	sbOpts, err := sb.options(s)
	if err != nil {
		return err
	}
	filter, err := fs.filter(s, time.Now())
	if err != nil {
		return err
	}
	if limit < 0 {
		return s.Invalid("LICENSEFIX_DLQ_LIMIT", "must not be negative")
	}
	if err := checkConnectTimeout(s, connect); err != nil {
		return err
	}
	client, err := sbconn.NewClient(sbOpts)
	if err != nil {
		return err
	}
	defer opCloseQuietly(client.Close)
	rcv, err := sb.entity.newReceiver(client, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		return fmt.Errorf("dead-letter receiver: %w", err)
	}
	defer opCloseQuietly(rcv.Close)
	if err := firstContact(ctx, connect, sb.endpoint(), "peek the dead-letter queue of "+sb.entity.String(), peekOne(rcv)); err != nil {
		return err
	}
	entries, err := dlq.List(ctx, rcv, filter, &dlq.ListOptions{Limit: limit})
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []dlq.Entry{}
	}
	switch {
	case summary && asJSON:
		return opWriteJSON(e.Stdout, dlq.Summarize(entries))
	case summary:
		return dlq.WriteSummary(e.Stdout, dlq.Summarize(entries))
	case asJSON:
		return opWriteJSON(e.Stdout, entries)
	default:
		return dlq.WriteTable(e.Stdout, entries)
	}
}

// peekOne peeks the first message of p: a harmless first call that opens
// the connection and the link.
func peekOne(p dlq.Peeker) func(context.Context) error {
	return func(ctx context.Context) error {
		first := int64(1)
		_, err := p.PeekMessages(ctx, 1, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &first})
		return err
	}
}

func opWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseReplayRate reads --rate: "N/s" or a plain number per second; 0 is no limit.
func parseReplayRate(v string) (float64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	num := strings.TrimSuffix(v, "/s")
	r, err := strconv.ParseFloat(num, 64)
	if err != nil || r < 0 || r != r || r > 1e6 {
		return 0, fmt.Errorf("%q is not a rate like 10/s", v)
	}
	return r, nil
}

func runDLQReplay(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("dlq replay")
	sb := addServiceBusSettings(s, roleReceive)
	logs := addLogSettings(s)
	fs := addFilterSettings(s)
	var max, maxReplays int
	var rate string
	var dryRun, force, asJSON bool
	var receiveTimeout, connect time.Duration
	addConnectTimeout(s, &connect)
	s.Int(&max, "max", "LICENSEFIX_DLQ_MAX", 0, "replay at most this many messages (0: all that match)")
	s.String(&rate, "rate", "LICENSEFIX_DLQ_RATE", "", "at most this many sends per second, e.g. 10/s (empty: no limit)")
	s.Bool(&dryRun, "dry-run", "LICENSEFIX_DLQ_DRY_RUN", false, "print what would be replayed; change nothing (peek only)")
	s.Int(&maxReplays, "max-replays", "LICENSEFIX_DLQ_MAX_REPLAYS", dlq.DefaultMaxReplays, "skip messages already replayed this many times (loop protection)")
	s.Bool(&force, "force", "LICENSEFIX_DLQ_FORCE", false, "replay messages even beyond --max-replays")
	s.Duration(&receiveTimeout, "receive-timeout", "LICENSEFIX_DLQ_RECEIVE_TIMEOUT", dlq.DefaultReceiveTimeout, "how long to wait for each selected message before reporting it as unavailable")
	s.Bool(&asJSON, "json", "LICENSEFIX_DLQ_JSON", false, "print the report as JSON")
	if err := s.Parse(args); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usagef("unexpected argument %q", s.Args()[0])
	}
	logger, err := logs.logger(s, e.Stderr)
	if err != nil {
		return err
	}
	sbOpts, err := sb.options(s)
	if err != nil {
		return err
	}
	filter, err := fs.filter(s, time.Now())
	if err != nil {
		return err
	}
	perSecond, err := parseReplayRate(rate)
	if err != nil {
		return s.Invalid("LICENSEFIX_DLQ_RATE", "%v", err)
	}
	switch {
	case max < 0:
		return s.Invalid("LICENSEFIX_DLQ_MAX", "must not be negative")
	case maxReplays < 1:
		return s.Invalid("LICENSEFIX_DLQ_MAX_REPLAYS", "must be at least 1")
	case receiveTimeout <= 0:
		return s.Invalid("LICENSEFIX_DLQ_RECEIVE_TIMEOUT", "must be positive")
	}
	if err := checkConnectTimeout(s, connect); err != nil {
		return err
	}

	client, err := sbconn.NewClient(sbOpts)
	if err != nil {
		return err
	}
	defer opCloseQuietly(client.Close)
	var ep *dlq.Endpoints
	if sb.entity.isSubscription() {
		ep, err = dlq.OpenSubscription(client, sb.entity.topic, sb.entity.subscription)
	} else {
		ep, err = dlq.Open(client, sb.entity.queue)
	}
	if err != nil {
		return err
	}
	defer opCloseQuietly(ep.Close)
	if err := firstContact(ctx, connect, sb.endpoint(), "peek the dead-letter queue of "+sb.entity.String(), peekOne(ep.DeadLetter)); err != nil {
		return err
	}

	if sb.entity.isSubscription() {
		// Service Bus sends to the topic, never to one subscription: say
		// where the copies go and what keeps them from the others.
		fmt.Fprintf(e.Stderr, "note: copies go to topic %s with %s=%s; a subscription of that topic without the replay rule "+
			"(README: Consuming a topic subscription) receives them too\n", sb.entity.topic, dlq.PropReplayTo, sb.entity.subscription)
	}
	opts := dlq.ReplayOptions{
		Filter: filter, Max: max, Rate: perSecond, DryRun: dryRun, MaxReplays: maxReplays, Force: force,
		ReceiveTimeout: receiveTimeout, Logger: logger, Actor: opActor(e), Host: opHostname(),
	}
	var bar *progressbar.ProgressBar
	if !dryRun && logging.IsTerminal(e.Stderr) {
		opts.Progress = func(done, total int) {
			if bar == nil && total >= opProgressThreshold {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(e.Stderr), progressbar.OptionSetDescription("replaying"),
					progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
			}
			if bar != nil {
				_ = bar.Set(done)
			}
		}
	}
	rep, runErr := dlq.Replay(ctx, ep, opts)
	if bar != nil {
		_ = bar.Finish()
	}
	if rep == nil {
		return runErr
	}
	if asJSON {
		if err := opWriteJSON(e.Stdout, rep); err != nil {
			return err
		}
	} else {
		writeReplayReport(e.Stdout, rep)
	}
	switch {
	case rep.Interrupted && ctx.Err() != nil:
		return &exitError{code: ExitInterrupted, err: fmt.Errorf("replay interrupted; %d selected message(s) not handled are still in the DLQ, unlocked; run the same command again to continue", rep.Unhandled)}
	case runErr != nil:
		return fmt.Errorf("replay stopped: %w", runErr)
	case !rep.OK():
		return &exitError{code: ExitFailure, err: fmt.Errorf("%d message(s) failed to replay", len(rep.Failed))}
	}
	return nil
}

// writeReplayReport prints what a replay did (or would do) and its summary line.
func writeReplayReport(w io.Writer, rep *dlq.Report) {
	if rep.DryRun && len(rep.Planned) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tMESSAGE ID\tNEW MESSAGE ID\tREASON\tUSER\tSTATE\tNOTE")
		for _, p := range rep.Planned {
			note := "-"
			if p.CopyExists {
				note = "copy already in queue: original only completed"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.SequenceNumber, dlqText(p.MessageID), dlqText(p.NewMessageID), dlqText(p.Reason), dlqText(p.UserID), p.State, note)
		}
		_ = tw.Flush()
	}
	for _, sk := range rep.Skipped {
		fmt.Fprintf(w, "skipped %d (message %s): %s: %s\n", sk.SequenceNumber, dlqText(sk.MessageID), sk.Why, dlqText(sk.Detail))
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "failed %d (message %s): %s\n", f.SequenceNumber, dlqText(f.MessageID), dlqText(f.Error))
	}
	for _, a := range rep.Abandoned {
		fmt.Fprintf(w, "abandoned %d (message %s): interrupted before its copy was sent; it is back in the DLQ, unlocked\n", a.SequenceNumber, dlqText(a.MessageID))
	}
	fmt.Fprintln(w, rep.String())
}

func dlqText(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// opActor names who runs a replay, for the audit line.
func opActor(e *Env) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if v := e.Getenv("USER"); v != "" {
		return v
	}
	return "unknown"
}

func opHostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
