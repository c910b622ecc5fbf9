package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func BenchmarkParseErrorBody(b *testing.B) {
	body := []byte(`{"error":{"code":"TooManyRequests","message":"Too many requests.","innerError":{"date":"2026-11-28T17:00:00","request-id":"r1","client-request-id":"c1"}}}`)
	for b.Loop() {
		_ = parseErrorBody(body)
	}
}

func BenchmarkReprocessURL(b *testing.B) {
	c, err := New(Config{RootURL: "http://127.0.0.1:8081", Auth: AuthNone})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.reprocessURL("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReprocess(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c, err := New(Config{RootURL: srv.URL, Auth: AuthNone})
	if err != nil {
		b.Fatal(err)
	}
	defer closeIdle(c)
	for b.Loop() {
		if _, err := c.Reprocess(context.Background(), "alice@contoso.com"); err != nil {
			b.Fatal(err)
		}
	}
}
