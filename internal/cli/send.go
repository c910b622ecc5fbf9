package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"

	"github.com/licensefix/licensefix/internal/envflag"
	"github.com/licensefix/licensefix/internal/logging"
	"github.com/licensefix/licensefix/internal/sbconn"
	"github.com/licensefix/licensefix/messages"
)

func init() {
	register(command{name: "send", summary: "enqueue license-fixed messages for user ids (flags, a file, CSV or stdin)", run: runSend})
}

// DefaultCloudEventType is the CloudEvents type `licensefix send
// --cloudevents` uses unless told otherwise.
const DefaultCloudEventType = "com.licensefix.user.license-fixed"

// defaultCloudEventSource is the CloudEvents source when --source is empty.
const defaultCloudEventSource = "/licensefix/send"

// opProgressThreshold is the input size from which send and replay show a
// progress bar (on a terminal only).
const opProgressThreshold = 50

// maxInputSize bounds what --from reads (a 64 MiB file holds about a
// million ids).
const maxInputSize = 64 << 20

// opCloseTimeout bounds closing Service Bus links and clients.
const opCloseTimeout = 10 * time.Second

type sendSettings struct {
	sb                    *serviceBusSettings
	logs                  *logSettings
	userIDs               []string // --user-id or LICENSEFIX_SEND_USER_IDS
	from                  string
	skipInvalid, keepDups bool
	source, correlationID string
	cloudEvents           bool
	cloudEventType        string
	connectTimeout        time.Duration
}

// repeatedFlag is a flag.Value for a list setting: each occurrence appends
// its comma-separated items, and the first occurrence replaces whatever the
// environment variable set (flags win over variables).
type repeatedFlag struct {
	p    *[]string
	seen bool
}

func (r *repeatedFlag) String() string { return "" }
func (r *repeatedFlag) Set(v string) error {
	if !r.seen {
		*r.p, r.seen = nil, true
	}
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*r.p = append(*r.p, item)
		}
	}
	return nil
}

// listSetting binds a repeatable, comma-separated flag and its variable to
// p. envflag has no repeatable kind, so the flag is registered on the flag
// set directly; the usage text lists it under the variable.
func listSetting(s *envflag.Set, p *[]string, flagName, env, usage string) {
	s.List(p, "", env, nil, usage+" (also --"+flagName+", repeatable, comma-separated)")
	s.FlagSet().Var(&repeatedFlag{p: p}, flagName, usage)
}

func runSend(ctx context.Context, e *Env, args []string) error {
	s := e.newSet("send")
	st := &sendSettings{sb: addServiceBusSettings(s, roleSend), logs: addLogSettings(s)}
	listSetting(s, &st.userIDs, "user-id", "LICENSEFIX_SEND_USER_IDS", "user ids (object id or userPrincipalName)")
	s.String(&st.from, "from", "LICENSEFIX_SEND_FROM", "", "file of user ids, one per line, or CSV with a userId, id, objectId or userPrincipalName column; - reads stdin")
	s.Bool(&st.skipInvalid, "skip-invalid", "LICENSEFIX_SEND_SKIP_INVALID", false, "send the valid ids even when some are invalid")
	s.Bool(&st.keepDups, "keep-duplicates", "LICENSEFIX_SEND_KEEP_DUPLICATES", false, "send an id as often as it occurs instead of once")
	s.String(&st.source, "source", "LICENSEFIX_SEND_SOURCE", "", "source of the event (body field source; CloudEvents source)")
	s.String(&st.correlationID, "correlation-id", "LICENSEFIX_SEND_CORRELATION_ID", "", "correlation id for every message (Service Bus property and body field)")
	s.Bool(&st.cloudEvents, "cloudevents", "LICENSEFIX_SEND_CLOUDEVENTS", false, "send CloudEvents 1.0 in structured mode instead of plain JSON")
	s.String(&st.cloudEventType, "cloudevent-type", "LICENSEFIX_SEND_CLOUDEVENT_TYPE", DefaultCloudEventType, "CloudEvents type with --cloudevents")
	addConnectTimeout(s, &st.connectTimeout)
	if err := s.Parse(args); err != nil {
		return err
	}
	if len(s.Args()) > 0 {
		return usagef("unexpected argument %q", s.Args()[0])
	}
	logger, err := st.logs.logger(s, e.Stderr)
	if err != nil {
		return err
	}
	sbOpts, err := st.sb.options(s)
	if err != nil {
		return err
	}
	if err := st.validate(s); err != nil {
		return err
	}
	if err := checkConnectTimeout(s, st.connectTimeout); err != nil {
		return err
	}

	ids, err := st.collect(e)
	if err != nil {
		return err
	}
	valid, invalid := validateIDs(ids)
	for _, in := range invalid {
		fmt.Fprintf(e.Stderr, "%s: %s\n", in.where, in.problem)
	}
	if len(invalid) > 0 && !st.skipInvalid {
		return fmt.Errorf("%d invalid user id(s); nothing sent (--skip-invalid sends the valid ones)", len(invalid))
	}
	if !st.keepDups {
		var dropped int
		valid, dropped = dedupe(valid)
		if dropped > 0 {
			fmt.Fprintf(e.Stderr, "ignored %d duplicate id(s) (--keep-duplicates sends them)\n", dropped)
		}
	}
	if len(valid) == 0 {
		fmt.Fprintln(e.Stdout, "sent 0")
		return nil
	}
	msgs, err := st.build(valid)
	if err != nil {
		return err
	}

	client, err := sbconn.NewClient(sbOpts)
	if err != nil {
		return err
	}
	defer opCloseQuietly(client.Close)
	to := st.sb.entity
	sender, err := client.NewSender(to.sendTo(), nil)
	if err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	defer opCloseQuietly(sender.Close)
	openSender := func(ctx context.Context) error { _, err := sender.NewMessageBatch(ctx, nil); return err }
	if err := firstContact(ctx, st.connectTimeout, st.sb.endpoint(), "open a sender on "+to.kind()+" "+to.String(), openSender); err != nil {
		return err
	}

	var bar *progressbar.ProgressBar
	progress := func(int) {}
	if len(msgs) >= opProgressThreshold && logging.IsTerminal(e.Stderr) {
		bar = progressbar.NewOptions(len(msgs), progressbar.OptionSetWriter(e.Stderr), progressbar.OptionSetDescription("sending"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		progress = func(n int) { _ = bar.Add(n) }
	}
	sent, err := sendBatches(ctx, sender, msgs, progress)
	if bar != nil {
		_ = bar.Finish()
	}
	logger.InfoContext(ctx, "send_finished", append(to.logAttrs(), "sent", sent, "total", len(msgs), "invalid", len(invalid))...)
	if err != nil {
		return fmt.Errorf("sent %d of %d, then: %w", sent, len(msgs), err)
	}
	fmt.Fprintf(e.Stdout, "sent %d\n", sent)
	return nil
}

func opCloseQuietly(f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), opCloseTimeout)
	defer cancel()
	_ = f(ctx)
}

// validate checks --source, --correlation-id and --cloudevent-type by
// encoding a sample message with them.
func (st *sendSettings) validate(s *envflag.Set) error {
	if st.from == "" && len(st.userIDs) == 0 {
		return usagef("give user ids with --user-id or --from FILE (- for stdin)")
	}
	sample := messages.LicenseFixed{UserID: "00000000-0000-0000-0000-000000000001", Source: st.source, CorrelationID: st.correlationID}
	if _, err := messages.Encode(sample); err != nil {
		var ie *messages.InvalidError
		if errors.As(err, &ie) && ie.Field == messages.FieldSource {
			return s.Invalid("LICENSEFIX_SEND_SOURCE", "%s", ie.Problem)
		}
		if errors.As(err, &ie) && ie.Field == messages.FieldCorrelationID {
			return s.Invalid("LICENSEFIX_SEND_CORRELATION_ID", "%s", ie.Problem)
		}
		return err
	}
	if st.cloudEvents {
		if _, err := messages.EncodeCloudEvent(sample, uuid.NewString(), st.ceSource(), st.cloudEventType); err != nil {
			var ie *messages.InvalidError
			if errors.As(err, &ie) && ie.Field == messages.FieldType {
				return s.Invalid("LICENSEFIX_SEND_CLOUDEVENT_TYPE", "%s", ie.Problem)
			}
			return s.Invalid("LICENSEFIX_SEND_SOURCE", "%v", err)
		}
	}
	return nil
}

func (st *sendSettings) ceSource() string {
	if st.source != "" {
		return st.source
	}
	return defaultCloudEventSource
}

// inputID is one user id with where it came from, for error reports.
type inputID struct {
	where string // "line 7", "--user-id #2"
	id    string
}

type invalidID struct {
	where, problem string
}

func (st *sendSettings) collect(e *Env) ([]inputID, error) {
	var ids []inputID
	for i, id := range st.userIDs {
		ids = append(ids, inputID{where: fmt.Sprintf("user id #%d", i+1), id: strings.TrimSpace(id)})
	}
	if st.from == "" {
		return ids, nil
	}
	var r io.Reader = e.Stdin
	name := "stdin"
	if st.from != "-" {
		f, err := os.Open(st.from)
		if err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
		defer f.Close()
		r, name = f, st.from
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInputSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxInputSize {
		return nil, fmt.Errorf("%s is larger than %d MiB; split it", name, maxInputSize>>20)
	}
	fromFile, err := parseIDs(data, strings.HasSuffix(strings.ToLower(st.from), ".csv"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return append(ids, fromFile...), nil
}

// idColumns are the CSV header names that hold a user id, in order of
// preference when a header has several; compared without regard to letter
// case.
var idColumns = []string{"userId", "id", "objectId", "userPrincipalName"}

// parseIDs reads user ids. The input is CSV when its first line that is not
// blank or a # comment has a comma, or when isCSV says so (a .csv file);
// the user ids are then in the first of idColumns the header names, and a
// header without any of them is a usage error naming them. A one-column
// header naming one of idColumns is read the same way. Anything else is one
// id per line, blank lines and lines starting with # ignored. A UTF-8 byte
// order mark is dropped. Positions are "line N" (1-based).
func parseIDs(data []byte, isCSV bool) ([]inputID, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	col, csvInput, err := csvIDColumn(data, isCSV)
	if err != nil {
		return nil, err
	}
	if csvInput {
		return parseCSV(data, col)
	}
	var out []inputID
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, inputID{where: fmt.Sprintf("line %d", i+1), id: line})
	}
	return out, nil
}

// csvIDColumn finds the user-id column of a CSV header. csvInput is false
// for the one-id-per-line format.
func csvIDColumn(data []byte, isCSV bool) (col int, csvInput bool, err error) {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rec, perr := csv.NewReader(strings.NewReader(line)).Read()
		if perr != nil {
			if isCSV || strings.Contains(line, ",") {
				return 0, false, usagef("the CSV header %q does not parse: %v", line, perr)
			}
			return 0, false, nil
		}
		for _, want := range idColumns {
			for i, f := range rec {
				if strings.EqualFold(strings.TrimSpace(f), want) {
					return i, true, nil
				}
			}
		}
		if isCSV || len(rec) > 1 {
			return 0, false, usagef("the CSV header has no user id column: looked for %s (any letter case), found %s",
				strings.Join(idColumns, ", "), strings.Join(quoteAll(rec), ", "))
		}
		return 0, false, nil
	}
	return 0, false, nil
}

func quoteAll(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = fmt.Sprintf("%q", strings.TrimSpace(f))
	}
	return out
}

func parseCSV(data []byte, col int) ([]inputID, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	var out []inputID
	header := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("CSV line %d: %v", pe.StartLine, pe.Err)
			}
			return nil, err
		}
		if header {
			header = false
			continue
		}
		line, _ := r.FieldPos(0)
		if col >= len(rec) {
			out = append(out, inputID{where: fmt.Sprintf("line %d", line), id: ""})
			continue
		}
		out = append(out, inputID{where: fmt.Sprintf("line %d", line), id: strings.TrimSpace(rec[col])})
	}
}

// validateIDs splits ids into valid and invalid with the worker's rules.
func validateIDs(ids []inputID) (valid []inputID, invalid []invalidID) {
	for _, in := range ids {
		if in.id == "" {
			invalid = append(invalid, invalidID{where: in.where, problem: "no user id"})
			continue
		}
		if err := messages.ValidateUserID(in.id); err != nil {
			var ie *messages.InvalidError
			problem := err.Error()
			if errors.As(err, &ie) {
				problem = "invalid user id: " + ie.Problem
			}
			invalid = append(invalid, invalidID{where: in.where, problem: problem})
			continue
		}
		valid = append(valid, in)
	}
	return valid, invalid
}

// dedupe keeps the first occurrence of each id, comparing without regard to
// letter case (Entra ids are case-insensitive).
func dedupe(ids []inputID) (out []inputID, dropped int) {
	seen := make(map[string]bool, len(ids))
	for _, in := range ids {
		k := strings.ToLower(in.id)
		if seen[k] {
			dropped++
			continue
		}
		seen[k] = true
		out = append(out, in)
	}
	return out, dropped
}

// build encodes one message per id.
func (st *sendSettings) build(ids []inputID) ([]*azservicebus.Message, error) {
	out := make([]*azservicebus.Message, 0, len(ids))
	for _, in := range ids {
		m := messages.LicenseFixed{UserID: in.id, Source: st.source, CorrelationID: st.correlationID}
		id := uuid.NewString()
		var body []byte
		var err error
		contentType := messages.ContentTypeJSON
		if st.cloudEvents {
			body, err = messages.EncodeCloudEvent(m, id, st.ceSource(), st.cloudEventType)
			contentType = messages.ContentTypeCloudEvent
		} else {
			body, err = messages.Encode(m)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.where, err)
		}
		msg := &azservicebus.Message{MessageID: &id, ContentType: &contentType, Body: body}
		if st.correlationID != "" {
			c := st.correlationID
			msg.CorrelationID = &c
		}
		out = append(out, msg)
	}
	return out, nil
}

// batchSender is what send needs of *azservicebus.Sender.
type batchSender interface {
	NewMessageBatch(ctx context.Context, options *azservicebus.MessageBatchOptions) (*azservicebus.MessageBatch, error)
	SendMessageBatch(ctx context.Context, batch *azservicebus.MessageBatch, options *azservicebus.SendMessageBatchOptions) error
}

var _ batchSender = (*azservicebus.Sender)(nil)

// sendBatches sends msgs in batches as large as the SDK allows and returns
// how many were sent. progress is called with each batch's size after it was
// sent.
func sendBatches(ctx context.Context, s batchSender, msgs []*azservicebus.Message, progress func(int)) (int, error) {
	sent := 0
	batch, err := s.NewMessageBatch(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("new batch: %w", err)
	}
	flush := func() error {
		n := int(batch.NumMessages())
		if n == 0 {
			return nil
		}
		if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
			return fmt.Errorf("send batch of %d: %w", n, err)
		}
		sent += n
		progress(n)
		batch, err = s.NewMessageBatch(ctx, nil)
		if err != nil {
			return fmt.Errorf("new batch: %w", err)
		}
		return nil
	}
	for _, m := range msgs {
		err := batch.AddMessage(m, nil)
		if errors.Is(err, azservicebus.ErrMessageTooLarge) && batch.NumMessages() > 0 {
			if err := flush(); err != nil {
				return sent, err
			}
			err = batch.AddMessage(m, nil)
		}
		if err != nil {
			return sent, fmt.Errorf("message %s: %w", *m.MessageID, err)
		}
	}
	if err := flush(); err != nil {
		return sent, err
	}
	return sent, nil
}
