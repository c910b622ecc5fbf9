package retry_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/licensefix/licensefix/retry"
)

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "2.128", "Sat, 28 Nov 2026 17:00:30 GMT", "-3", "86400", "soon"} {
		d, ok := retry.ParseRetryAfter(v, now)
		fmt.Println(v, "=>", d, ok)
	}
	// Output:
	// 120 => 2m0s true
	// 2.128 => 2.128s true
	// Sat, 28 Nov 2026 17:00:30 GMT => 30s true
	// -3 => 0s true
	// 86400 => 1h0m0s true
	// soon => 0s false
}

func ExamplePolicy_NewBackoff() {
	p := retry.DefaultPolicy()
	if err := p.Validate(); err != nil {
		panic(err)
	}
	b := p.NewBackoff(rand.New(rand.NewPCG(1, 2)))
	for range 8 {
		d := b.Next(0)
		// Each delay is uniform in [0, ceiling]; ceilings are 1s, 2s, 4s, ... capped at 60s.
		fmt.Println(d <= 60*time.Second)
	}
	// A server's Retry-After is a floor for the delay.
	fmt.Println(b.Next(90*time.Second) >= 90*time.Second, b.Attempts())
	// Output:
	// true
	// true
	// true
	// true
	// true
	// true
	// true
	// true
	// true 9
}

func ExamplePolicy_Validate() {
	p := retry.DefaultPolicy()
	p.MaxInterval = 500 * time.Millisecond
	fmt.Println(p.Validate())
	// Output:
	// retry: MaxInterval must be >= InitialInterval
}
