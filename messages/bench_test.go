package messages

import (
	"testing"
)

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		raw  Raw
	}{
		{"plain", Raw{ContentType: ContentTypeJSON, Body: []byte(`{"userId":"alice@contoso.com","tenantId":"` + tenant +
			`","correlationId":"hr-4711","source":"workday","reason":"license reassigned","occurredAt":"2026-11-28T17:35:00Z"}`)}},
		{"structured", Raw{ContentType: ContentTypeCloudEvent, Body: []byte(`{"specversion":"1.0","id":"evt-1","source":"/hr/workday","type":"` +
			ceType + `","time":"2026-11-28T17:35:00Z","datacontenttype":"application/json","data":{"userId":"` + testGUID + `"}}`)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.raw.Body)))
			for b.Loop() {
				if _, err := Decode(bc.raw, DecodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValidateUserID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateUserID("alice_contoso.com#EXT#@fabrikam.onmicrosoft.com"); err != nil {
			b.Fatal(err)
		}
	}
}
