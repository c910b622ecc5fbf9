package graph

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want errorBody
	}{
		{"graph shape", `{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist.",
			"innerError":{"date":"2026-11-28T17:00:00","request-id":"r1","client-request-id":"c1"}}}`,
			errorBody{Code: "Request_ResourceNotFound", Message: "Resource 'x' does not exist.", RequestID: "r1", ClientRequestID: "c1", Date: "2026-11-28T17:00:00"}},
		{"nested innerError", `{"error":{"code":"C","message":"M","innerError":{"date":"d1","innerError":{"request-id":"deep","client-request-id":"deepc"}}}}`,
			errorBody{Code: "C", Message: "M", RequestID: "deep", ClientRequestID: "deepc", Date: "d1"}},
		{"outer innerError wins", `{"error":{"code":"C","innerError":{"request-id":"outer","innerError":{"request-id":"inner"}}}}`,
			errorBody{Code: "C", RequestID: "outer"}},
		{"no innerError", `{"error":{"code":"TooManyRequests","message":"Too many requests."}}`,
			errorBody{Code: "TooManyRequests", Message: "Too many requests."}},
		{"case-insensitive keys", `{"Error":{"Code":"C","Message":"M","innererror":{"Request-Id":"r"}}}`,
			errorBody{Code: "C", Message: "M", RequestID: "r"}},
		{"odata.error with message object", `{"odata.error":{"code":"Authorization_RequestDenied","message":{"lang":"en","value":"Insufficient privileges."}}}`,
			errorBody{Code: "Authorization_RequestDenied", Message: "Insufficient privileges."}},
		{"wrong types", `{"error":{"code":42,"message":["x"],"innerError":"r"}}`, errorBody{}},
		{"error not an object", `{"error":"boom"}`, errorBody{}},
		{"array", `[{"error":{"code":"C"}}]`, errorBody{}},
		{"empty", ``, errorBody{}},
		{"null", `null`, errorBody{}},
		{"html", `<html><body>502 Bad Gateway</body></html>`, errorBody{}},
		{"truncated", `{"error":{"code":"C","message":"cut`, errorBody{}},
		{"control characters cleaned", "{\"error\":{\"code\":\"C\\r\\nX\",\"message\":\"line1\\nline2\\u0000\"}}",
			errorBody{Code: "C  X", Message: "line1 line2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, parseErrorBody([]byte(tt.body)))
		})
	}
}

func TestParseErrorBodyBoundsStrings(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 2*maxMessageLen)
	got := parseErrorBody([]byte(`{"error":{"code":"` + long + `","message":"` + long + `"}}`))
	assert.LessOrEqual(t, len(got.Code), maxCodeLen)
	assert.LessOrEqual(t, len(got.Message), maxMessageLen)
	assert.True(t, utf8.ValidString(got.Message), "cut on a rune boundary")
	assert.True(t, strings.HasPrefix(long, got.Message))

	// Deep nesting stops after maxInnerDepth levels.
	deep := `{"error":{"code":"C"` + strings.Repeat(`,"innerError":{"x":1`, maxInnerDepth) + `,"innerError":{"request-id":"too-deep"}` + strings.Repeat("}", maxInnerDepth) + "}}"
	assert.Equal(t, errorBody{Code: "C"}, parseErrorBody([]byte(deep)))
}

func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":"C","message":"M","innerError":{"date":"2026-11-28T17:00:00","request-id":"r","client-request-id":"c"}}}`,
		`{"error":{"code":"C","innerError":{"innerError":{"request-id":"deep"}}}}`,
		`{"odata.error":{"code":"C","message":{"value":"M"}}}`,
		`<html>502</html>`,
		``,
		`{"error":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := parseErrorBody(body)
		for _, s := range []string{got.Code, got.Message, got.RequestID, got.ClientRequestID, got.Date} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("control character in %q", s)
			}
			if s != strings.TrimSpace(s) {
				t.Fatalf("untrimmed %q", s)
			}
		}
		if len(got.Code) > maxCodeLen || len(got.Message) > maxMessageLen || len(got.RequestID) > maxCodeLen ||
			len(got.ClientRequestID) > maxCodeLen || len(got.Date) > maxCodeLen {
			t.Fatalf("unbounded field in %+v", got)
		}
	})
}
