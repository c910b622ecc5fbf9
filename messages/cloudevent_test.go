package messages

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ceType = "com.example.license.fixed"

// structured returns a structured-mode Raw whose envelope is the given
// attributes (JSON members, without braces).
func structured(members string) Raw {
	return Raw{ContentType: ContentTypeCloudEvent, Body: []byte("{" + members + "}")}
}

const ceBase = `"specversion":"1.0","id":"evt-1","source":"/hr/workday","type":"` + ceType + `"`

// binary returns a binary-mode Raw with the given properties and body.
func binary(props map[string]any, body string) Raw {
	return Raw{ContentType: ContentTypeJSON, ApplicationProperties: props, Body: []byte(body)}
}

func binaryProps(prefix string) map[string]any {
	return map[string]any{
		prefix + "specversion": "1.0",
		prefix + "id":          "evt-1",
		prefix + "source":      "/hr/workday",
		prefix + "type":        ceType,
	}
}

func with(props map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range props {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
			continue
		}
		out[k] = kv[i+1]
	}
	return out
}

func TestDecodeCloudEventStructured(t *testing.T) {
	t.Parallel()
	raw := structured(ceBase + `,"subject":"alice","time":"2026-11-28T17:35:00+01:00","datacontenttype":"application/json","ext":"x",` +
		`"data":{"userId":"alice@contoso.com","tenantId":"` + tenant + `","reason":"fixed"}`)
	raw.ContentType = "application/cloudevents+json; charset=utf-8"
	got, err := Decode(raw, DecodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, "alice@contoso.com", got.UserID)
	assert.Equal(t, tenant, got.TenantID)
	assert.Equal(t, "fixed", got.Reason)
	require.NotNil(t, got.CloudEvent)
	ce := *got.CloudEvent
	assert.True(t, time.Date(2026, 11, 28, 16, 35, 0, 0, time.UTC).Equal(ce.Time), "time %v", ce.Time)
	ce.Time = time.Time{}
	assert.Equal(t, CloudEvent{
		ID: "evt-1", Source: "/hr/workday", Type: ceType, Subject: "alice",
		SpecVersion: "1.0", Mode: ModeStructured,
	}, ce)
}

func TestDecodeCloudEventBinary(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 28, 17, 35, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		props map[string]any
		ct    string
	}{
		{"colon prefix, time string", with(binaryProps("cloudEvents:"), "cloudEvents:subject", "alice", "cloudEvents:time", "2026-11-28T17:35:00Z"), ContentTypeJSON},
		{"underscore prefix, AMQP timestamp", with(binaryProps("cloudEvents_"), "cloudEvents_subject", "alice", "cloudEvents_time", at), ""},
		{"prefix in other case", with(binaryProps("CloudEvents:"), "CloudEvents:subject", "alice", "CloudEvents:time", at, "other", int64(3)), "application/json; charset=utf-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := binary(tc.props, `{"userId":"`+testGUID+`"}`)
			raw.ContentType = tc.ct
			got, err := Decode(raw, DecodeOptions{CloudEventTypes: []string{"other", ceType}})
			require.NoError(t, err)
			assert.Equal(t, testGUID, got.UserID)
			require.NotNil(t, got.CloudEvent)
			ce := *got.CloudEvent
			assert.True(t, at.Equal(ce.Time), "time %v", ce.Time)
			ce.Time = time.Time{}
			assert.Equal(t, CloudEvent{
				ID: "evt-1", Source: "/hr/workday", Type: ceType, Subject: "alice",
				SpecVersion: "1.0", Mode: ModeBinary,
			}, ce)
		})
	}
}

func TestDecodeCloudEventAllowList(t *testing.T) {
	t.Parallel()
	allow := DecodeOptions{CloudEventTypes: []string{ceType}}
	data := `,"data":{"userId":"` + testGUID + `"}`

	got, err := Decode(structured(ceBase+data), allow)
	require.NoError(t, err, "allowed type, structured")
	assert.Equal(t, ceType, got.CloudEvent.Type)

	_, err = Decode(structured(strings.Replace(ceBase, ceType, "com.example.other", 1)+data), allow)
	ie := requireInvalid(t, err, FieldType)
	assert.Contains(t, ie.Problem, "not an allowed event type")

	props := binaryProps(CloudEventsPropertyPrefix)
	_, err = Decode(binary(props, `{"userId":"`+testGUID+`"}`), allow)
	require.NoError(t, err, "allowed type, binary")

	_, err = Decode(binary(with(props, "cloudEvents:type", "com.example.other"), `{"userId":"`+testGUID+`"}`), allow)
	requireInvalid(t, err, "cloudEvents:type")

	// The allow-list is exact: no prefix or case folding.
	_, err = Decode(structured(strings.Replace(ceBase, ceType, strings.ToUpper(ceType), 1)+data), allow)
	requireInvalid(t, err, FieldType)

	// An empty allow-list admits any type.
	_, err = Decode(structured(strings.Replace(ceBase, ceType, "com.example.other", 1)+data), DecodeOptions{})
	require.NoError(t, err)
}

func TestDecodeCloudEventInvalid(t *testing.T) {
	t.Parallel()
	data := `,"data":{"userId":"` + testGUID + `"}`
	body := `{"userId":"` + testGUID + `"}`
	p := binaryProps(CloudEventsPropertyPrefix)
	tests := []struct {
		name    string
		raw     Raw
		field   string
		problem string
	}{
		{"structured missing specversion", structured(`"id":"1","source":"s","type":"t"` + data), FieldSpecVersion, "missing"},
		{"structured specversion 0.3", structured(strings.Replace(ceBase, `"1.0"`, `"0.3"`, 1) + data), FieldSpecVersion, `"0.3"`},
		{"structured specversion number", structured(strings.Replace(ceBase, `"1.0"`, `1.0`, 1) + data), FieldSpecVersion, "number"},
		{"structured missing id", structured(`"specversion":"1.0","source":"s","type":"t"` + data), FieldID, "missing"},
		{"structured empty source", structured(`"specversion":"1.0","id":"1","source":"","type":"t"` + data), FieldSource, "empty"},
		{"structured missing type", structured(`"specversion":"1.0","id":"1","source":"s"` + data), FieldType, "missing"},
		{"structured type with newline", structured(`"specversion":"1.0","id":"1","source":"s","type":"a\nb"` + data), FieldType, "control"},
		{"structured subject number", structured(ceBase + `,"subject":1` + data), FieldSubject, "number"},
		{"structured bad time", structured(ceBase + `,"time":"yesterday"` + data), FieldTime, "RFC 3339"},
		{"structured missing data", structured(ceBase), FieldData, "missing"},
		{"structured null data", structured(ceBase + `,"data":null`), FieldData, "missing"},
		{"structured string data", structured(ceBase + `,"data":"{\"userId\":\"` + testGUID + `\"}"`), FieldData, "string"},
		{"structured data_base64", structured(ceBase + `,"data_base64":"e30="`), FieldData, "data_base64"},
		{"structured xml datacontenttype", structured(ceBase + `,"datacontenttype":"application/xml"` + data), FieldDataContentType, "application/json"},
		{"structured invalid userId in data", structured(ceBase + `,"data":{"userId":"../me"}`), FieldUserID, "no @"},
		{"structured missing userId in data", structured(ceBase + `,"data":{}`), FieldUserID, "missing"},
		{"structured case-variant attribute", structured(ceBase + `,"Type":"x"` + data), FieldType, "letter case"},
		{"structured duplicate data", structured(ceBase + data + data), FieldBody, "duplicate key"},
		{"structured duplicate userId in data", structured(ceBase + `,"data":{"userId":"` + testGUID + `","userId":"a@b.cd"}`), FieldBody, "duplicate key"},
		{"structured array", Raw{ContentType: ContentTypeCloudEvent, Body: []byte(`[{` + ceBase + data + `}]`)}, FieldBody, "array"},
		{"structured empty", Raw{ContentType: ContentTypeCloudEvent}, FieldBody, "empty"},
		{"batch content type", Raw{ContentType: "application/cloudevents-batch+json", Body: []byte(`[]`)}, FieldContentType, "want"},
		{"binary missing specversion", binary(with(p, "cloudEvents:specversion", nil), body), "cloudEvents:specversion", "missing"},
		{"binary wrong specversion", binary(with(p, "cloudEvents:specversion", "1.1"), body), "cloudEvents:specversion", `"1.1"`},
		{"binary only subject", binary(map[string]any{"cloudEvents:subject": "x"}, body), "cloudEvents:specversion", "missing"},
		{"binary missing id", binary(with(p, "cloudEvents:id", nil), body), "cloudEvents:id", "missing"},
		{"binary id not string", binary(with(p, "cloudEvents:id", int64(7)), body), "cloudEvents:id", "int64"},
		{"binary empty source", binary(with(p, "cloudEvents:source", ""), body), "cloudEvents:source", "empty"},
		{"binary missing type", binary(with(p, "cloudEvents:type", nil), body), "cloudEvents:type", "missing"},
		{"binary time number", binary(with(p, "cloudEvents:time", int64(1)), body), "cloudEvents:time", "int64"},
		{"binary bad time", binary(with(p, "cloudEvents:time", "now"), body), "cloudEvents:time", "RFC 3339"},
		{"binary subject too long", binary(with(p, "cloudEvents:subject", strings.Repeat("s", MaxTextLength+1)), body), "cloudEvents:subject", "longer"},
		{"binary both prefixes", binary(with(p, "cloudEvents_id", "evt-2"), body), "cloudEvents:id", "more than once"},
		{"binary xml datacontenttype", binary(with(p, "cloudEvents:datacontenttype", "application/xml"), body), "cloudEvents:datacontenttype", "application/json"},
		{"binary invalid UTF-8 attribute", binary(with(p, "cloudEvents:source", "a\xffb"), body), "cloudEvents:source", "UTF-8"},
		{"binary invalid body", binary(p, `{"userId":"$batch"}`), FieldUserID, "no @"},
		{"binary empty body", binary(p, ``), FieldBody, "empty"},
		{"binary xml content type", Raw{ContentType: "application/xml", ApplicationProperties: p, Body: []byte(body)}, FieldContentType, "want"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Decode(tc.raw, DecodeOptions{})
			ie := requireInvalid(t, err, tc.field)
			assert.Contains(t, ie.Problem, tc.problem)
			assert.Nil(t, m.CloudEvent)
		})
	}
}

func TestDecodeStructuredIgnoresBinaryProperties(t *testing.T) {
	t.Parallel()
	raw := structured(ceBase + `,"data":{"userId":"` + testGUID + `"}`)
	raw.ApplicationProperties = map[string]any{"cloudEvents:type": "com.example.other"}
	got, err := Decode(raw, DecodeOptions{CloudEventTypes: []string{ceType}})
	require.NoError(t, err)
	assert.Equal(t, ModeStructured, got.CloudEvent.Mode)
	assert.Equal(t, ceType, got.CloudEvent.Type)
}

func TestDecodePlainHasNoCloudEvent(t *testing.T) {
	t.Parallel()
	raw := jsonBody(`{"userId":"` + testGUID + `"}`)
	raw.ApplicationProperties = map[string]any{"Diagnostic-Id": "x", "cloudEvent": "not a prefix"}
	got, err := Decode(raw, DecodeOptions{CloudEventTypes: []string{ceType}})
	require.NoError(t, err)
	assert.Nil(t, got.CloudEvent)
}
