package dlq

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/messages"
)

// Message states as Entry.State reports them.
const (
	StateActive    = "active"
	StateDeferred  = "deferred"
	StateScheduled = "scheduled"
)

// Entry is one dead-lettered message as list and replay see it. Its JSON form
// is what `licensefix dlq list --json` prints.
type Entry struct {
	SequenceNumber int64     `json:"sequenceNumber"`
	MessageID      string    `json:"messageId"`
	EnqueuedTime   time.Time `json:"enqueuedTime,omitzero"`
	// State is active, deferred (set aside by an earlier replay, see the
	// package documentation) or scheduled.
	State         string `json:"state"`
	DeliveryCount uint32 `json:"deliveryCount"`
	Reason        string `json:"deadLetterReason,omitempty"`
	Description   string `json:"deadLetterErrorDescription,omitempty"`
	Source        string `json:"deadLetterSource,omitempty"`
	// UserID comes from the licensefix-user-id property, else from the body.
	UserID string `json:"userId,omitempty"`
	// GraphErrorCode is the licensefix-graph-error-code property.
	GraphErrorCode string `json:"graphErrorCode,omitempty"`
	// ReplayCount is the licensefix-replay-count property (0 when absent).
	ReplayCount int `json:"replayCount"`
	// Invalid is why the body fails validation ("" when it is valid).
	Invalid       string `json:"invalid,omitempty"`
	ContentType   string `json:"contentType,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	Subject       string `json:"subject,omitempty"`
	// ApplicationProperties holds every application property as received.
	ApplicationProperties map[string]any `json:"applicationProperties,omitempty"`
	// Body is the body when it is UTF-8 text; BodyBase64 holds it otherwise.
	Body       string `json:"body,omitempty"`
	BodyBase64 []byte `json:"bodyBase64,omitempty"`
}

// NewEntry describes a received or peeked dead-lettered message.
func NewEntry(m *azservicebus.ReceivedMessage) Entry {
	e := Entry{
		MessageID:             m.MessageID,
		DeliveryCount:         m.DeliveryCount,
		Reason:                deref(m.DeadLetterReason),
		Description:           deref(m.DeadLetterErrorDescription),
		Source:                deref(m.DeadLetterSource),
		ContentType:           deref(m.ContentType),
		CorrelationID:         deref(m.CorrelationID),
		Subject:               deref(m.Subject),
		ApplicationProperties: m.ApplicationProperties,
	}
	if m.SequenceNumber != nil {
		e.SequenceNumber = *m.SequenceNumber
	}
	if m.EnqueuedTime != nil {
		e.EnqueuedTime = m.EnqueuedTime.UTC()
	}
	switch m.State {
	case azservicebus.MessageStateDeferred:
		e.State = StateDeferred
	case azservicebus.MessageStateScheduled:
		e.State = StateScheduled
	default:
		e.State = StateActive
	}
	if e.Reason == "" {
		e.Reason = stringProp(m.ApplicationProperties, PropDeadLetterReason)
	}
	if e.Description == "" {
		e.Description = stringProp(m.ApplicationProperties, PropDeadLetterDescription)
	}
	e.GraphErrorCode = stringProp(m.ApplicationProperties, PropGraphErrorCode)
	e.ReplayCount, _ = intProp(m.ApplicationProperties, PropReplayCount)
	if utf8.Valid(m.Body) {
		e.Body = string(m.Body)
	} else {
		e.BodyBase64 = m.Body
	}
	decoded, err := messages.Decode(messages.Raw{
		ContentType:           e.ContentType,
		ApplicationProperties: m.ApplicationProperties,
		Body:                  m.Body,
	}, messages.DecodeOptions{})
	if err != nil {
		e.Invalid = err.Error()
	}
	e.UserID = stringProp(m.ApplicationProperties, PropUserID)
	if e.UserID == "" && err == nil {
		e.UserID = decoded.UserID
	}
	return e
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// stringProp returns a property as text: strings as they are, other simple
// values formatted; "" when absent.
func stringProp(props map[string]any, key string) string {
	v, ok := props[key]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}

// intProp reads an integer property of any AMQP integer type, or a decimal
// string. ok is false when the property is absent or not an integer.
func intProp(props map[string]any, key string) (n int, ok bool) {
	switch x := props[key].(type) {
	case int:
		return x, true
	case int8:
		return int(x), true
	case int16:
		return int(x), true
	case int32:
		return int(x), true
	case int64:
		return clampInt(x), true
	case uint8:
		return int(x), true
	case uint16:
		return int(x), true
	case uint32:
		return clampInt(int64(x)), true
	case uint64:
		if x > math.MaxInt32 {
			return math.MaxInt32, true
		}
		return int(x), true
	case string:
		v, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, false
		}
		return v, true
	default:
		return 0, false
	}
}

func clampInt(x int64) int {
	switch {
	case x > math.MaxInt32:
		return math.MaxInt32
	case x < math.MinInt32:
		return math.MinInt32
	default:
		return int(x)
	}
}

// MarshalJSON writes e with application property values that JSON cannot
// represent as such (NaN, infinities, AMQP types without a JSON form)
// turned into strings, so that one odd property never breaks `--json`.
func (e Entry) MarshalJSON() ([]byte, error) {
	type plain Entry
	p := plain(e)
	if len(e.ApplicationProperties) > 0 {
		p.ApplicationProperties = make(map[string]any, len(e.ApplicationProperties))
		for k, v := range e.ApplicationProperties {
			p.ApplicationProperties[k] = jsonSafe(v)
		}
	}
	return json.Marshal(p)
}

func jsonSafe(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, []byte:
		return v
	case float32:
		return jsonSafe(float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return x
	case time.Time:
		return x.UTC()
	default:
		if _, err := json.Marshal(v); err != nil {
			return fmt.Sprint(v)
		}
		return v
	}
}
