package messages

import (
	"encoding/json"
	"time"
)

// Encode returns the JSON body (content type application/json) for m after
// validating it with the rules Decode applies. m.CloudEvent is ignored. Any
// failure is an *InvalidError.
func Encode(m LicenseFixed) ([]byte, error) {
	if err := validateMessage(m); err != nil {
		return nil, err
	}
	return marshal(wireMessageOf(m))
}

// EncodeCloudEvent returns a structured-mode CloudEvent (content type
// application/cloudevents+json) carrying m as data, with the given id, source
// and type. The event's time is m.CloudEvent.Time when set, else
// m.OccurredAt when set; its subject is m.CloudEvent.Subject when set. Any
// failure is an *InvalidError.
func EncodeCloudEvent(m LicenseFixed, id, source, eventType string) ([]byte, error) {
	if err := validateMessage(m); err != nil {
		return nil, err
	}
	ev := wireCloudEvent{
		SpecVersion:     CloudEventsSpecVersion,
		ID:              id,
		Source:          source,
		Type:            eventType,
		DataContentType: ContentTypeJSON,
		Data:            wireMessageOf(m),
	}
	t := m.OccurredAt
	if m.CloudEvent != nil {
		ev.Subject = m.CloudEvent.Subject
		if !m.CloudEvent.Time.IsZero() {
			t = m.CloudEvent.Time
		}
	}
	for _, a := range []struct{ field, value string }{
		{FieldID, id}, {FieldSource, source}, {FieldType, eventType},
	} {
		if a.value == "" {
			return nil, invalid(a.field, "is empty")
		}
		if p := textProblem(a.value); p != "" {
			return nil, invalid(a.field, p)
		}
	}
	if p := textProblem(ev.Subject); p != "" {
		return nil, invalid(FieldSubject, p)
	}
	if !t.IsZero() {
		if p := timeProblem(t); p != "" {
			return nil, invalid(FieldTime, p)
		}
		ev.Time = t.Format(time.RFC3339Nano)
	}
	return marshal(ev)
}

// wireMessage is the JSON shape of a message.
type wireMessage struct {
	UserID        string `json:"userId"`
	TenantID      string `json:"tenantId,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	Source        string `json:"source,omitempty"`
	Reason        string `json:"reason,omitempty"`
	OccurredAt    string `json:"occurredAt,omitempty"`
}

// wireCloudEvent is the JSON shape of a structured-mode CloudEvent.
type wireCloudEvent struct {
	SpecVersion     string      `json:"specversion"`
	ID              string      `json:"id"`
	Source          string      `json:"source"`
	Type            string      `json:"type"`
	Subject         string      `json:"subject,omitempty"`
	Time            string      `json:"time,omitempty"`
	DataContentType string      `json:"datacontenttype"`
	Data            wireMessage `json:"data"`
}

func wireMessageOf(m LicenseFixed) wireMessage {
	w := wireMessage{
		UserID:        m.UserID,
		TenantID:      m.TenantID,
		CorrelationID: m.CorrelationID,
		Source:        m.Source,
		Reason:        m.Reason,
	}
	if !m.OccurredAt.IsZero() {
		w.OccurredAt = m.OccurredAt.Format(time.RFC3339Nano)
	}
	return w
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		// Unreachable: the wire types hold only strings.
		return nil, invalid(FieldBody, "cannot be encoded as JSON")
	}
	return b, nil
}

// validateMessage applies Decode's field rules to m.
func validateMessage(m LicenseFixed) *InvalidError {
	if p := userIDProblem(m.UserID); p != "" {
		return invalid(FieldUserID, p)
	}
	if m.TenantID != "" {
		if p := tenantIDProblem(m.TenantID); p != "" {
			return invalid(FieldTenantID, p)
		}
	}
	for _, f := range []struct{ name, value string }{
		{FieldCorrelationID, m.CorrelationID},
		{FieldSource, m.Source},
		{FieldReason, m.Reason},
	} {
		if p := textProblem(f.value); p != "" {
			return invalid(f.name, p)
		}
	}
	if !m.OccurredAt.IsZero() {
		if p := timeProblem(m.OccurredAt); p != "" {
			return invalid(FieldOccurredAt, p)
		}
	}
	return nil
}

// timeProblem refuses times that RFC 3339 cannot express: years outside
// 0000-9999 and offsets that are not whole minutes under 24 hours.
func timeProblem(t time.Time) string {
	if y := t.Year(); y < 0 || y > 9999 {
		return "has a year outside 0000-9999"
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return "has a time-zone offset that is not whole minutes under 24 hours"
	}
	return ""
}
