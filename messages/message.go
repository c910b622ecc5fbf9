package messages

import "time"

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
