package messages

// Contract of the "user license fixed" message package. The messages helper
// implements the stubs in api_stubs.go in its own files and deletes that file;
// the declarations here may be extended but not renamed.

import (
	"fmt"
	"time"
)

// Content types the decoder recognises.
const (
	ContentTypeJSON       = "application/json"
	ContentTypeCloudEvent = "application/cloudevents+json"
)

// MaxBodySize is the largest body accepted (64 KiB).
const MaxBodySize = 64 << 10

// LicenseFixed is a validated "user license fixed" message.
type LicenseFixed struct {
	UserID        string    `json:"userId"`
	TenantID      string    `json:"tenantId,omitempty"`
	CorrelationID string    `json:"correlationId,omitempty"`
	Source        string    `json:"source,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	OccurredAt    time.Time `json:"occurredAt,omitzero"`
	// CloudEvent is set when the message arrived as a CloudEvent.
	CloudEvent *CloudEvent `json:"-"`
}

// CloudEvent holds the CloudEvents 1.0 context attributes of a message.
type CloudEvent struct {
	ID          string
	Source      string
	Type        string
	Subject     string
	Time        time.Time
	SpecVersion string
	Mode        string // "structured" or "binary"
}

// Raw is a received message as the decoder needs it, independent of any SDK.
type Raw struct {
	ContentType           string
	ApplicationProperties map[string]any
	Body                  []byte
}

// DecodeOptions tunes Decode. The zero value accepts any CloudEvent type.
type DecodeOptions struct {
	// CloudEventTypes, when non-empty, is the allow-list of CloudEvent types.
	CloudEventTypes []string
}

// InvalidError says why a message is invalid. It is the only error Decode
// returns; Field names the offending field ("body", "userId", "tenantId",
// "cloudEvents:type", ...). Problem is a short human sentence that never
// echoes more than a bounded, sanitised excerpt of the input.
type InvalidError struct {
	Field   string
	Problem string
}

// Error names the field and the problem.
func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid message: %s: %s", e.Field, e.Problem)
}
