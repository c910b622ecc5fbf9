package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/internal/sbconn"
)

// errNotConfirmed is returned when the person at the terminal does not
// confirm a purge.
var errNotConfirmed = errors.New("not confirmed; nothing purged")

func runDLQPurge(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("dlq purge")
	sb := addServiceBusSettings(s, roleReceive)
	logs := addLogSettings(s)
	fs := addFilterSettings(s)
	var dryRun, yes, all, asJSON bool
	var receiveTimeout, connect time.Duration
	addConnectTimeout(s, &connect)
	s.Bool(&dryRun, "dry-run", "LICENSEFIX_DLQ_DRY_RUN", false, "list exactly what would be removed; change nothing (peek only)")
	// --yes and --all are flags only, on purpose: consent to delete is given
	// per run, never inherited from an environment.
	s.Bool(&yes, "yes", "", false, "remove without asking; required when stdin is not a terminal")
	s.Bool(&all, "all", "", false, "allow a purge without any filter (every message in the DLQ)")
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
	if receiveTimeout <= 0 {
		return s.Invalid("LICENSEFIX_DLQ_RECEIVE_TIMEOUT", "must be positive")
	}
	if err := checkConnectTimeout(s, connect); err != nil {
		return err
	}
	if isEmptyFilter(filter) && !all {
		return usagef("without a filter, purge would remove every message in the DLQ: give --reason, --user-id, --since or --until, or --all to mean every message")
	}
	if !dryRun && !yes && !e.interactive() {
		return usagef("purge removes messages for good and stdin is not a terminal to ask: add --yes, or look first with --dry-run")
	}

	client, err := sbconn.NewClient(sbOpts)
	if err != nil {
		return err
	}
	defer opCloseQuietly(client.Close)
	rcv, err := sb.entity.newReceiver(client, &azservicebus.ReceiverOptions{
		ReceiveMode: azservicebus.ReceiveModePeekLock, SubQueue: azservicebus.SubQueueDeadLetter,
	})
	if err != nil {
		return fmt.Errorf("dead-letter receiver: %w", err)
	}
	defer opCloseQuietly(rcv.Close)
	if err := firstContact(ctx, connect, sb.endpoint(), "peek the dead-letter queue of "+sb.entity.String(), peekOne(rcv)); err != nil {
		return err
	}

	opts := dlq.PurgeOptions{Filter: filter, DryRun: dryRun, ReceiveTimeout: receiveTimeout, Logger: logger, Actor: opActor(e), Host: opHostname()}
	if !dryRun && !yes {
		opts.Confirm = func(ctx context.Context, sel []dlq.Purgeable) (bool, error) {
			writePurgeTable(e.Stderr, sel)
			fmt.Fprintf(e.Stderr, "Remove these %d message(s) from the dead-letter queue of %s for good? [y/N] ", len(sel), sb.entity)
			return confirm(ctx, e.Stdin)
		}
	}
	rep, runErr := dlq.Purge(ctx, rcv, opts)
	if rep == nil {
		return runErr
	}
	if asJSON {
		if err := opWriteJSON(e.Stdout, rep); err != nil {
			return err
		}
	} else {
		if rep.DryRun && len(rep.Selected) > 0 {
			writePurgeTable(e.Stdout, rep.Selected)
		}
		for _, f := range rep.Failed {
			fmt.Fprintf(e.Stdout, "failed %d (message %s): %s\n", f.SequenceNumber, dlqText(f.MessageID), dlqText(f.Error))
		}
		fmt.Fprintln(e.Stdout, rep.String())
	}
	switch {
	case runErr != nil:
		return fmt.Errorf("purge stopped: %w", runErr)
	case rep.Declined:
		return &exitError{code: ExitFailure, err: errNotConfirmed}
	case !rep.OK():
		return &exitError{code: ExitFailure, err: fmt.Errorf("%d message(s) could not be purged", len(rep.Failed))}
	}
	return nil
}

func isEmptyFilter(f dlq.Filter) bool {
	return len(f.Reasons) == 0 && len(f.UserIDs) == 0 && f.Since.IsZero() && f.Until.IsZero()
}

// writePurgeTable lists the messages a purge selected.
func writePurgeTable(w io.Writer, sel []dlq.Purgeable) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tMESSAGE ID\tENQUEUED\tSTATE\tREASON\tUSER")
	for _, p := range sel {
		enq := "-"
		if !p.EnqueuedTime.IsZero() {
			enq = p.EnqueuedTime.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.SequenceNumber, dlqText(p.MessageID), enq, p.State, dlqText(p.Reason), dlqText(p.UserID))
	}
	_ = tw.Flush()
}

// confirm reads one answer line; only "y" or "yes" (any case) confirms.
// It gives up when ctx ends (Ctrl-C) without waiting for the line.
func confirm(ctx context.Context, in io.Reader) (bool, error) {
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(in).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}
