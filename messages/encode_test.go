package messages

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fullMessage() LicenseFixed {
	return LicenseFixed{
		UserID:        "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com",
		TenantID:      tenant,
		CorrelationID: "hr-4711",
		Source:        "workday <prod> & co",
		Reason:        "licence réassignée",
		OccurredAt:    time.Date(2026, 11, 28, 17, 35, 0, 123456789, time.FixedZone("CET", 3600)),
	}
}

// assertSameMessage compares two messages, times by instant.
func assertSameMessage(t *testing.T, want, got LicenseFixed) {
	t.Helper()
	assert.True(t, want.OccurredAt.Equal(got.OccurredAt), "occurredAt %v, want %v", got.OccurredAt, want.OccurredAt)
	want.OccurredAt, got.OccurredAt = time.Time{}, time.Time{}
	want.CloudEvent, got.CloudEvent = nil, nil
	assert.Equal(t, want, got)
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []LicenseFixed{
		{UserID: testGUID},
		{UserID: "$alice@contoso.com"},
		fullMessage(),
	} {
		body, err := Encode(m)
		require.NoError(t, err)
		got, err := Decode(Raw{ContentType: ContentTypeJSON, Body: body}, DecodeOptions{})
		require.NoError(t, err, "%s", body)
		assertSameMessage(t, m, got)
		assert.Nil(t, got.CloudEvent)
	}
}

func TestEncodeOmitsEmptyFields(t *testing.T) {
	t.Parallel()
	body, err := Encode(LicenseFixed{UserID: testGUID, CloudEvent: &CloudEvent{ID: "ignored"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"userId":"`+testGUID+`"}`, string(body))
}

func TestEncodeCloudEventRoundTrip(t *testing.T) {
	t.Parallel()
	m := fullMessage()
	body, err := EncodeCloudEvent(m, "evt-1", "/hr/workday", ceType)
	require.NoError(t, err)

	var envelope map[string]any
	require.NoError(t, json.Unmarshal(body, &envelope))
	assert.Equal(t, "1.0", envelope["specversion"])
	assert.Equal(t, ContentTypeJSON, envelope["datacontenttype"])
	assert.Equal(t, "2026-11-28T17:35:00.123456789+01:00", envelope["time"])
	assert.NotContains(t, envelope, "subject")

	got, err := Decode(Raw{ContentType: ContentTypeCloudEvent, Body: body}, DecodeOptions{CloudEventTypes: []string{ceType}})
	require.NoError(t, err, "%s", body)
	assertSameMessage(t, m, got)
	require.NotNil(t, got.CloudEvent)
	assert.Equal(t, "evt-1", got.CloudEvent.ID)
	assert.Equal(t, "/hr/workday", got.CloudEvent.Source)
	assert.Equal(t, ceType, got.CloudEvent.Type)
	assert.Equal(t, ModeStructured, got.CloudEvent.Mode)
	assert.True(t, m.OccurredAt.Equal(got.CloudEvent.Time))
}

func TestEncodeCloudEventUsesCloudEventAttributes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := LicenseFixed{UserID: testGUID, CloudEvent: &CloudEvent{Subject: "alice", Time: at}}
	body, err := EncodeCloudEvent(m, "evt-2", "/hr", ceType)
	require.NoError(t, err)
	got, err := Decode(Raw{ContentType: ContentTypeCloudEvent, Body: body}, DecodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, "alice", got.CloudEvent.Subject)
	assert.True(t, at.Equal(got.CloudEvent.Time))
	assert.True(t, got.OccurredAt.IsZero())

	body, err = EncodeCloudEvent(LicenseFixed{UserID: testGUID}, "evt-3", "/hr", ceType)
	require.NoError(t, err)
	assert.NotContains(t, string(body), `"time"`)
}

func TestEncodeRejectsInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		m     LicenseFixed
		field string
	}{
		{"empty userId", LicenseFixed{}, FieldUserID},
		{"traversal userId", LicenseFixed{UserID: "../me"}, FieldUserID},
		{"nil GUID", LicenseFixed{UserID: nilGUID}, FieldUserID},
		{"bad tenant", LicenseFixed{UserID: testGUID, TenantID: "contoso"}, FieldTenantID},
		{"control in reason", LicenseFixed{UserID: testGUID, Reason: "a\nb"}, FieldReason},
		{"long source", LicenseFixed{UserID: testGUID, Source: strings.Repeat("s", MaxTextLength+1)}, FieldSource},
		{"bidi in correlationId", LicenseFixed{UserID: testGUID, CorrelationID: "\u202e"}, FieldCorrelationID},
		{"year 10000", LicenseFixed{UserID: testGUID, OccurredAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, FieldOccurredAt},
		{"negative year", LicenseFixed{UserID: testGUID, OccurredAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}, FieldOccurredAt},
		{"second offset", LicenseFixed{UserID: testGUID, OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 30))}, FieldOccurredAt},
		{"24 hour offset", LicenseFixed{UserID: testGUID, OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 24*3600))}, FieldOccurredAt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body, err := Encode(tc.m)
			requireInvalid(t, err, tc.field)
			assert.Nil(t, body)
			body, err = EncodeCloudEvent(tc.m, "evt", "/src", ceType)
			requireInvalid(t, err, tc.field)
			assert.Nil(t, body)
		})
	}
}

func TestEncodeCloudEventRejectsInvalidAttributes(t *testing.T) {
	t.Parallel()
	m := LicenseFixed{UserID: testGUID}
	for _, tc := range []struct {
		name, id, source, typ, field string
		ce                           *CloudEvent
	}{
		{"empty id", "", "/s", ceType, FieldID, nil},
		{"empty source", "e", "", ceType, FieldSource, nil},
		{"empty type", "e", "/s", "", FieldType, nil},
		{"control in type", "e", "/s", "a\x00", FieldType, nil},
		{"long id", strings.Repeat("i", MaxTextLength+1), "/s", ceType, FieldID, nil},
		{"control in subject", "e", "/s", ceType, FieldSubject, &CloudEvent{Subject: "a\rb"}},
		{"bad time", "e", "/s", ceType, FieldTime, &CloudEvent{Time: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		m.CloudEvent = tc.ce
		body, err := EncodeCloudEvent(m, tc.id, tc.source, tc.typ)
		requireInvalid(t, err, tc.field)
		assert.Nil(t, body, tc.name)
	}
}
