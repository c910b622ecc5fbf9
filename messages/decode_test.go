package messages

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testGUID  = "4f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"
	testGUIDU = "4F1C2A7E-9B3D-4C8E-A1F0-6D2B8E9C7A51"
	tenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// jsonBody returns a plain JSON Raw.
func jsonBody(body string) Raw {
	return Raw{ContentType: ContentTypeJSON, Body: []byte(body)}
}

// requireInvalid asserts err is an *InvalidError for field and returns it.
func requireInvalid(t *testing.T, err error, field string) *InvalidError {
	t.Helper()
	require.Error(t, err)
	var ie *InvalidError
	require.True(t, errors.As(err, &ie), "error %v (%T) is not *InvalidError", err, err)
	if field != "" {
		assert.Equal(t, field, ie.Field, "problem: %s", ie.Problem)
	}
	assertSafeProblem(t, ie.Problem)
	return ie
}

// assertSafeProblem checks the promise that Problem holds no control or
// non-ASCII characters and stays short.
func assertSafeProblem(t *testing.T, p string) {
	t.Helper()
	assert.NotEmpty(t, p)
	assert.LessOrEqual(t, len(p), 300, "problem too long: %q", p)
	for _, r := range p {
		assert.True(t, r >= 0x20 && r < 0x7f, "problem has unsafe rune %U: %q", r, p)
	}
}

func nested(depth int) string {
	return `{"userId":"` + testGUID + `","x":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}"
}

func TestDecodeInvalidCatalogue(t *testing.T) {
	t.Parallel()
	uid := func(v string) string { return `{"userId":` + v + `}` }
	tests := []struct {
		name    string
		raw     Raw
		field   string
		problem string // a phrase the Problem must contain
		opts    DecodeOptions
	}{
		{"empty body", jsonBody(""), FieldBody, "empty", DecodeOptions{}},
		{"whitespace body", jsonBody(" \n\t"), FieldBody, "empty", DecodeOptions{}},
		{"null", jsonBody("null"), FieldBody, "null", DecodeOptions{}},
		{"array", jsonBody("[]"), FieldBody, "array", DecodeOptions{}},
		{"string top level", jsonBody(`"` + testGUID + `"`), FieldBody, "string", DecodeOptions{}},
		{"number top level", jsonBody(`42`), FieldBody, "number", DecodeOptions{}},
		{"truncated JSON", jsonBody(`{"userId":"` + testGUID), FieldBody, "truncated", DecodeOptions{}},
		{"truncated after colon", jsonBody(`{"userId":`), FieldBody, "truncated", DecodeOptions{}},
		{"missing closing brace", jsonBody(`{"userId":"` + testGUID + `"`), FieldBody, "truncated", DecodeOptions{}},
		{"trailing comma", jsonBody(`{"userId":"` + testGUID + `",}`), FieldBody, "not valid JSON", DecodeOptions{}},
		{"single quotes", jsonBody(`{'userId':'` + testGUID + `'}`), FieldBody, "not valid JSON", DecodeOptions{}},
		{"BOM-prefixed JSON", jsonBody("\xEF\xBB\xBF" + uid(`"`+testGUID+`"`)), FieldBody, "byte order mark", DecodeOptions{}},
		{"non-UTF-8 bytes", jsonBody(`{"userId":"` + testGUID + `","reason":"caf` + "\xE9" + `"}`), FieldBody, "UTF-8", DecodeOptions{}},
		{"trailing data", jsonBody(uid(`"`+testGUID+`"`) + `x`), FieldBody, "after the JSON value", DecodeOptions{}},
		{"second JSON value", jsonBody(uid(`"`+testGUID+`"`) + ` {}`), FieldBody, "after the JSON value", DecodeOptions{}},
		{"missing userId", jsonBody(`{"tenantId":"` + tenant + `"}`), FieldUserID, "missing", DecodeOptions{}},
		{"empty object", jsonBody(`{}`), FieldUserID, "missing", DecodeOptions{}},
		{"empty userId", jsonBody(uid(`""`)), FieldUserID, "empty", DecodeOptions{}},
		{"numeric userId", jsonBody(uid(`12345`)), FieldUserID, "number", DecodeOptions{}},
		{"array userId", jsonBody(uid(`["` + testGUID + `"]`)), FieldUserID, "array", DecodeOptions{}},
		{"object userId", jsonBody(uid(`{"id":"` + testGUID + `"}`)), FieldUserID, "object", DecodeOptions{}},
		{"null userId", jsonBody(uid(`null`)), FieldUserID, "null", DecodeOptions{}},
		{"boolean userId", jsonBody(uid(`true`)), FieldUserID, "boolean", DecodeOptions{}},
		{"duplicate userId keys", jsonBody(`{"userId":"` + testGUID + `","userId":"alice@contoso.com"}`), FieldBody, "duplicate key", DecodeOptions{}},
		{"duplicate userId via escape", jsonBody(`{"userId":"` + testGUID + `","user\u0049d":"alice@contoso.com"}`), FieldBody, "duplicate key", DecodeOptions{}},
		{"duplicate keys nested", jsonBody(`{"userId":"` + testGUID + `","x":{"a":1,"a":2}}`), FieldBody, "duplicate key", DecodeOptions{}},
		{"duplicate keys in array object", jsonBody(`{"userId":"` + testGUID + `","x":[{"a":1,"a":2}]}`), FieldBody, "duplicate key", DecodeOptions{}},
		{"case variant of userId", jsonBody(`{"userId":"` + testGUID + `","UserId":"alice@contoso.com"}`), FieldUserID, "letter case", DecodeOptions{}},
		{"case variant only", jsonBody(`{"userid":"` + testGUID + `"}`), FieldUserID, "letter case", DecodeOptions{}},
		{"nil GUID", jsonBody(uid(`"00000000-0000-0000-0000-000000000000"`)), FieldUserID, "nil GUID", DecodeOptions{}},
		{"path traversal", jsonBody(uid(`"../../me"`)), FieldUserID, "no @", DecodeOptions{}},
		{"encoded traversal", jsonBody(uid(`"..%2F"`)), FieldUserID, "no @", DecodeOptions{}},
		{"query injection", jsonBody(uid(`"` + testGUID + `?$expand=x"`)), FieldUserID, "no @", DecodeOptions{}},
		{"fragment", jsonBody(uid(`"` + testGUID + `#"`)), FieldUserID, "no @", DecodeOptions{}},
		{"path append", jsonBody(uid(`"` + testGUID + `/../../groups"`)), FieldUserID, "no @", DecodeOptions{}},
		{"key form injection", jsonBody(uid(`"('$x@y')"`)), FieldUserID, "not allowed", DecodeOptions{}},
		{"batch", jsonBody(uid(`"$batch"`)), FieldUserID, "no @", DecodeOptions{}},
		{"absolute URL", jsonBody(uid(`"https://evil.example/"`)), FieldUserID, "no @", DecodeOptions{}},
		{"scheme-relative URL", jsonBody(uid(`"//evil"`)), FieldUserID, "no @", DecodeOptions{}},
		{"CRLF inside id", jsonBody(uid(`"alice\r\n@contoso.com"`)), FieldUserID, "control", DecodeOptions{}},
		{"CRLF after GUID", jsonBody(uid(`"` + testGUID + `\r\nX-Evil: 1"`)), FieldUserID, "control", DecodeOptions{}},
		{"NUL inside id", jsonBody(uid(`"` + testGUID[:8] + `\u0000` + testGUID[8:] + `"`)), FieldUserID, "control", DecodeOptions{}},
		{"full-width digits", jsonBody(uid(`"４f1c2a7e-9b3d-4c8e-a1f0-6d2b8e9c7a51"`)), FieldUserID, "non-ASCII", DecodeOptions{}},
		{"zero-width space", jsonBody(uid(`"alice\u200b@contoso.com"`)), FieldUserID, "non-ASCII", DecodeOptions{}},
		{"RTL override", jsonBody(uid(`"alice\u202e@contoso.com"`)), FieldUserID, "non-ASCII", DecodeOptions{}},
		{"Cyrillic look-alike", jsonBody(uid(`"аlice@contoso.com"`)), FieldUserID, "non-ASCII", DecodeOptions{}},
		{"space in id", jsonBody(uid(`"alice smith@contoso.com"`)), FieldUserID, "whitespace", DecodeOptions{}},
		{"backslash", jsonBody(uid(`"alice\\bob@contoso.com"`)), FieldUserID, "not allowed", DecodeOptions{}},
		{"percent", jsonBody(uid(`"alice%40@contoso.com"`)), FieldUserID, "not allowed", DecodeOptions{}},
		{"over-long id", jsonBody(uid(`"` + strings.Repeat("a", 60) + `@` + strings.Repeat("b", 60) + `.com"`)), FieldUserID, "longer than 113", DecodeOptions{}},
		{"70 KiB of padding", jsonBody(`{"userId":"` + testGUID + `","pad":"` + strings.Repeat("x", 70<<10) + `"}`), FieldBody, "limit", DecodeOptions{}},
		{"10,000 levels of nesting", jsonBody(nested(10000)), FieldBody, "deeper than 32", DecodeOptions{}},
		{"10,000 levels of objects", jsonBody(strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)), FieldBody, "deeper than 32", DecodeOptions{}},
		{"33 levels of nesting", jsonBody(nested(MaxDepth)), FieldBody, "deeper than 32", DecodeOptions{}},
		{"tenantId not GUID", jsonBody(`{"userId":"` + testGUID + `","tenantId":"contoso"}`), FieldTenantID, "not a GUID", DecodeOptions{}},
		{"tenantId nil GUID", jsonBody(`{"userId":"` + testGUID + `","tenantId":"00000000-0000-0000-0000-000000000000"}`), FieldTenantID, "nil GUID", DecodeOptions{}},
		{"tenantId number", jsonBody(`{"userId":"` + testGUID + `","tenantId":7}`), FieldTenantID, "number", DecodeOptions{}},
		{"correlationId number", jsonBody(`{"userId":"` + testGUID + `","correlationId":7}`), FieldCorrelationID, "number", DecodeOptions{}},
		{"source object", jsonBody(`{"userId":"` + testGUID + `","source":{}}`), FieldSource, "object", DecodeOptions{}},
		{"reason too long", jsonBody(`{"userId":"` + testGUID + `","reason":"` + strings.Repeat("r", MaxTextLength+1) + `"}`), FieldReason, "longer than 256", DecodeOptions{}},
		{"reason with newline", jsonBody(`{"userId":"` + testGUID + `","reason":"a\nb"}`), FieldReason, "control", DecodeOptions{}},
		{"reason with C1 control", jsonBody(`{"userId":"` + testGUID + `","reason":"a\u0085b"}`), FieldReason, "control", DecodeOptions{}},
		{"source with bidi override", jsonBody(`{"userId":"` + testGUID + `","source":"a\u202eb"}`), FieldSource, "bidirectional", DecodeOptions{}},
		{"occurredAt not RFC 3339", jsonBody(`{"userId":"` + testGUID + `","occurredAt":"28/11/2026"}`), FieldOccurredAt, "RFC 3339", DecodeOptions{}},
		{"occurredAt without zone", jsonBody(`{"userId":"` + testGUID + `","occurredAt":"2026-11-28T17:35:00"}`), FieldOccurredAt, "RFC 3339", DecodeOptions{}},
		{"occurredAt number", jsonBody(`{"userId":"` + testGUID + `","occurredAt":1764351300}`), FieldOccurredAt, "number", DecodeOptions{}},
		{"unknown content type", Raw{ContentType: "text/plain", Body: []byte(uid(`"` + testGUID + `"`))}, FieldContentType, "want application/json", DecodeOptions{}},
		{"wrong charset", Raw{ContentType: "application/json; charset=latin1", Body: []byte(uid(`"` + testGUID + `"`))}, FieldContentType, "want application/json", DecodeOptions{}},
		{"malformed content type", Raw{ContentType: "application/json; ;", Body: []byte(uid(`"` + testGUID + `"`))}, FieldContentType, "want application/json", DecodeOptions{}},
		{"CloudEvent type not in allow-list", Raw{ContentType: ContentTypeCloudEvent, Body: []byte(`{` + ceBase + `,"data":{"userId":"` + testGUID + `"}}`)}, FieldType, "not an allowed event type", DecodeOptions{CloudEventTypes: []string{"com.example.other"}}},
		{"binary CloudEvent type not in allow-list", binary(binaryProps(CloudEventsPropertyPrefixAlt), uid(`"`+testGUID+`"`)), "cloudEvents:type", "not an allowed event type", DecodeOptions{CloudEventTypes: []string{"com.example.other"}}},
		{"CloudEvent with invalid userId", Raw{ContentType: ContentTypeCloudEvent, Body: []byte(`{` + ceBase + `,"data":{"userId":"//evil"}}`)}, FieldUserID, "no @", DecodeOptions{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Decode(tc.raw, tc.opts)
			ie := requireInvalid(t, err, tc.field)
			assert.Contains(t, ie.Problem, tc.problem)
			assert.Equal(t, LicenseFixed{}, m)
		})
	}
}

func TestDecodeValid(t *testing.T) {
	t.Parallel()
	occurred := time.Date(2026, 11, 28, 17, 35, 0, 0, time.UTC)
	allow := DecodeOptions{CloudEventTypes: []string{"com.example.other", ceType}}
	structuredCE := &CloudEvent{ID: "evt-1", Source: "/hr/workday", Type: ceType, SpecVersion: "1.0", Mode: ModeStructured}
	binaryCE := &CloudEvent{ID: "evt-1", Source: "/hr/workday", Type: ceType, SpecVersion: "1.0", Mode: ModeBinary}
	tests := []struct {
		name string
		raw  Raw
		want LicenseFixed
		opts DecodeOptions
	}{
		{"GUID lower case", jsonBody(`{"userId":"` + testGUID + `"}`), LicenseFixed{UserID: testGUID}, DecodeOptions{}},
		{"GUID upper case", jsonBody(`{"userId":"` + testGUIDU + `"}`), LicenseFixed{UserID: testGUIDU}, DecodeOptions{}},
		{"simple UPN", jsonBody(`{"userId":"alice@contoso.com"}`), LicenseFixed{UserID: "alice@contoso.com"}, DecodeOptions{}},
		{"dollar UPN", jsonBody(`{"userId":"$alice@contoso.com"}`), LicenseFixed{UserID: "$alice@contoso.com"}, DecodeOptions{}},
		{"B2B EXT UPN", jsonBody(`{"userId":"alice_contoso.com#EXT#@fabrikam.onmicrosoft.com"}`), LicenseFixed{UserID: "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com"}, DecodeOptions{}},
		{"apostrophe UPN", jsonBody(`{"userId":"o'brien@contoso.com"}`), LicenseFixed{UserID: "o'brien@contoso.com"}, DecodeOptions{}},
		{"no content type", Raw{Body: []byte(`{"userId":"alice@contoso.com"}`)}, LicenseFixed{UserID: "alice@contoso.com"}, DecodeOptions{}},
		{"charset utf-8", Raw{ContentType: "application/json; charset=UTF-8", Body: []byte(`{"userId":"alice@contoso.com"}`)}, LicenseFixed{UserID: "alice@contoso.com"}, DecodeOptions{}},
		{"surrounding white space", jsonBody(" \n{\"userId\":\"alice@contoso.com\"}\n"), LicenseFixed{UserID: "alice@contoso.com"}, DecodeOptions{}},
		{"escaped userId", jsonBody(`{"userId":"alice\u0040contoso.com"}`), LicenseFixed{UserID: "alice@contoso.com"}, DecodeOptions{}},
		{
			"all optional fields",
			jsonBody(`{"userId":"alice@contoso.com","tenantId":"` + tenant + `","correlationId":"hr-4711","source":"workday","reason":"départ → arrivée","occurredAt":"2026-11-28T17:35:00Z"}`),
			LicenseFixed{UserID: "alice@contoso.com", TenantID: tenant, CorrelationID: "hr-4711", Source: "workday", Reason: "départ → arrivée", OccurredAt: occurred}, DecodeOptions{},
		},
		{
			"null optional fields",
			jsonBody(`{"userId":"alice@contoso.com","tenantId":null,"correlationId":null,"source":null,"reason":null,"occurredAt":null}`),
			LicenseFixed{UserID: "alice@contoso.com"}, DecodeOptions{},
		},
		{
			"lower-case t and z in occurredAt",
			jsonBody(`{"userId":"alice@contoso.com","occurredAt":"2026-11-28t17:35:00z"}`),
			LicenseFixed{UserID: "alice@contoso.com", OccurredAt: occurred}, DecodeOptions{},
		},
		{
			"unknown fields ignored",
			jsonBody(`{"userId":"alice@contoso.com","extra":{"deep":[1,2,{"x":null}]},"n":1e400,"flag":true,"USERID2":"x"}`),
			LicenseFixed{UserID: "alice@contoso.com"}, DecodeOptions{},
		},
		{"32 levels of nesting", jsonBody(nested(MaxDepth - 1)), LicenseFixed{UserID: testGUID}, DecodeOptions{}},
		{
			"CloudEvent structured",
			Raw{ContentType: ContentTypeCloudEvent, Body: []byte(`{` + ceBase + `,"data":{"userId":"alice@contoso.com","reason":"r"}}`)},
			LicenseFixed{UserID: "alice@contoso.com", Reason: "r", CloudEvent: structuredCE}, DecodeOptions{},
		},
		{
			"CloudEvent binary",
			binary(binaryProps(CloudEventsPropertyPrefix), `{"userId":"`+testGUID+`"}`),
			LicenseFixed{UserID: testGUID, CloudEvent: binaryCE}, DecodeOptions{},
		},
		{
			"CloudEvent binary, cloudEvents_ prefix",
			binary(binaryProps(CloudEventsPropertyPrefixAlt), `{"userId":"`+testGUID+`"}`),
			LicenseFixed{UserID: testGUID, CloudEvent: binaryCE}, DecodeOptions{},
		},
		{
			"allow-list accepts structured",
			Raw{ContentType: ContentTypeCloudEvent, Body: []byte(`{` + ceBase + `,"data":{"userId":"alice@contoso.com"}}`)},
			LicenseFixed{UserID: "alice@contoso.com", CloudEvent: structuredCE}, allow,
		},
		{
			"allow-list accepts binary",
			binary(binaryProps(CloudEventsPropertyPrefix), `{"userId":"`+testGUID+`"}`),
			LicenseFixed{UserID: testGUID, CloudEvent: binaryCE}, allow,
		},
		{"allow-list does not apply to plain JSON", jsonBody(`{"userId":"alice@contoso.com"}`), LicenseFixed{UserID: "alice@contoso.com"}, allow},
		{"reason at length limit", jsonBody(`{"userId":"alice@contoso.com","reason":"` + strings.Repeat("é", MaxTextLength) + `"}`), LicenseFixed{UserID: "alice@contoso.com", Reason: strings.Repeat("é", MaxTextLength)}, DecodeOptions{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(tc.raw, tc.opts)
			require.NoError(t, err)
			assert.True(t, tc.want.OccurredAt.Equal(got.OccurredAt), "occurredAt %v", got.OccurredAt)
			got.OccurredAt, tc.want.OccurredAt = time.Time{}, time.Time{}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeBodyAtSizeLimit(t *testing.T) {
	t.Parallel()
	prefix := `{"userId":"` + testGUID + `","pad":"`
	pad := strings.Repeat("x", MaxBodySize-len(prefix)-2)
	body := prefix + pad + `"}`
	require.Len(t, body, MaxBodySize)
	_, err := Decode(jsonBody(body), DecodeOptions{})
	require.NoError(t, err)

	body = prefix + pad + `x"}`
	_, err = Decode(jsonBody(body), DecodeOptions{})
	ie := requireInvalid(t, err, FieldBody)
	assert.Contains(t, ie.Problem, "limit")
}

func TestDecodeProblemNeverEchoesInput(t *testing.T) {
	t.Parallel()
	secret := "SharedAccessKey=c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw=="
	inputs := []Raw{
		jsonBody(`{"userId":"` + secret + `"}`),
		jsonBody(`{"userId":"x","` + secret + `":1,"` + secret + `":2}`),
		jsonBody(`{"userId":"` + testGUID + `"}` + secret),
		{ContentType: "text/" + secret},
		{ContentType: ContentTypeCloudEvent, Body: []byte(`{"specversion":"` + secret + `"}`)},
		{ContentType: ContentTypeCloudEvent, Body: []byte(`{"specversion":"1.0","id":"1","source":"s","type":"` + secret + `","data":{}}`)},
	}
	for _, raw := range inputs {
		_, err := Decode(raw, DecodeOptions{CloudEventTypes: []string{"a"}})
		ie := requireInvalid(t, err, "")
		assert.NotContains(t, ie.Error(), secret)
		assert.NotContains(t, ie.Error(), "c2VjcmV0LXZhbHVl")
	}
}

func TestDecodeProblemEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	raw := Raw{ContentType: "text/plain\x1b[31m\u202e", Body: []byte(`{}`)}
	_, err := Decode(raw, DecodeOptions{})
	ie := requireInvalid(t, err, FieldContentType)
	assert.Contains(t, ie.Problem, `\x1b`)
	assert.Contains(t, ie.Problem, `\u202e`)
}

func TestDecodeDeepNestingIsCheap(t *testing.T) {
	t.Parallel()
	// A megabyte of brackets is refused for size; under the limit, nesting
	// is refused after MaxDepth tokens without building anything deep.
	for _, body := range []string{
		strings.Repeat("[", 1<<20),
		strings.Repeat("[", MaxBodySize),
		strings.Repeat(`{"a":`, MaxBodySize/5),
	} {
		_, err := Decode(jsonBody(body), DecodeOptions{})
		requireInvalid(t, err, FieldBody)
	}
}

func TestInvalidErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(&InvalidError{Field: FieldUserID, Problem: "is empty"})
	assert.Equal(t, "invalid message: userId: is empty", err.Error())
}
