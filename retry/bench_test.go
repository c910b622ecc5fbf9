package retry

import (
	"math/rand/v2"
	"testing"
	"time"
)

func BenchmarkBackoffNext(b *testing.B) {
	bo := DefaultPolicy().NewBackoff(rand.New(rand.NewPCG(1, 2)))
	for b.Loop() {
		_ = bo.Next(0)
	}
}

func BenchmarkParseRetryAfter(b *testing.B) {
	now := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "2.128", "Sat, 28 Nov 2026 17:00:30 GMT"} {
		b.Run(v, func(b *testing.B) {
			for b.Loop() {
				_, _ = ParseRetryAfter(v, now)
			}
		})
	}
}
