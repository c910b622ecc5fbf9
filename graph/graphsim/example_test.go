package graphsim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph/graphsim"
)

// A user is throttled once, then succeeds.
func ExampleNewServer() {
	sim, err := graphsim.NewServer(graphsim.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sim.Close()
	sim.Script("adele@contoso.com", graphsim.Response{Status: http.StatusTooManyRequests, RetryAfter: "2"})

	client := &http.Client{}
	defer client.CloseIdleConnections()
	url := sim.URL + "/beta/users/adele@contoso.com/cloudLicensing/assignments/reprocessAssignments"
	for range 2 {
		resp, err := client.Post(url, "", nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Printf("%d retry-after=%q\n", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	fmt.Println("calls:", sim.Calls("adele@contoso.com"))
	// Output:
	// 429 retry-after="2"
	// 200 retry-after=""
	// calls: 2
}

// The demo directory answers each user as its constant describes.
func ExampleDemoScenario() {
	sim := graphsim.New(graphsim.Options{})
	defer sim.Close()
	sim.LoadScenario(graphsim.DemoScenario())
	h := sim.Handler()
	for _, id := range []string{graphsim.DemoHealthyUser1, graphsim.DemoFlakyUser, graphsim.DemoUnknownUser} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1.0/users/"+id+"/reprocessLicenseAssignment", nil))
		fmt.Println(id, rec.Code)
	}
	// Output:
	// 3f2504e0-4f89-41d3-9a0c-0305e82c3301 200
	// flaky@contoso.onmicrosoft.com 503
	// unknown@contoso.onmicrosoft.com 404
}

// A quota of 10 calls per second: the burst goes through, then every call
// is throttled and charged, so Retry-After grows while the client keeps
// calling. The stats are what a benchmark reads (also over HTTP, from
// ControlQuotaPath).
func ExampleServer_SetQuota() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sim := graphsim.New(graphsim.Options{Now: func() time.Time { return now }})
	defer sim.Close()
	if err := sim.SetQuota(graphsim.Quota{Rate: 10, Steps: []graphsim.QuotaStep{{At: time.Minute, Rate: 5}}}); err != nil {
		fmt.Println(err)
		return
	}
	h := sim.Handler()
	for i := range 12 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1.0/users/adele@contoso.com/reprocessLicenseAssignment", nil))
		if i >= 8 {
			fmt.Printf("%d retry-after=%q limit-percentage=%q\n", rec.Code,
				rec.Header().Get("Retry-After"), rec.Header().Get("x-ms-throttle-limit-percentage"))
		}
	}
	st := sim.QuotaStats()
	fmt.Printf("calls=%d accepted=%d throttled=%d balance=%g users=%d\n", st.Calls, st.Accepted, st.Throttled, st.Balance, st.UsersSucceeded)
	// Output:
	// 200 retry-after="" limit-percentage="0.90"
	// 200 retry-after="" limit-percentage="1.00"
	// 429 retry-after="0.2" limit-percentage=""
	// 429 retry-after="0.3" limit-percentage=""
	// calls=12 accepted=10 throttled=2 balance=-2 users=1
}

// BenchmarkHandler measures the handler alone (no network) on the default
// path and on a throttled tenant.
func BenchmarkHandler(b *testing.B) {
	for _, bc := range []struct {
		name  string
		setup func(*graphsim.Server)
	}{
		{"default", func(*graphsim.Server) {}},
		{"bucket", func(s *graphsim.Server) { s.SetTokenBucket(1000, 1<<62) }},
		{"quota", func(s *graphsim.Server) {
			_ = s.SetQuota(graphsim.Quota{Rate: 1e-9, Burst: 1000, Steps: []graphsim.QuotaStep{{At: time.Hour, Rate: 1}}})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := graphsim.New(graphsim.Options{})
			defer s.Close()
			bc.setup(s)
			h := s.Handler()
			path := betaPath("bench@contoso.com")
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%4096 == 0 {
					s.Reset() // bound the recorded requests
					bc.setup(s)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
			}
		})
	}
}
