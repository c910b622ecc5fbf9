package cli

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (the Service Bus
// SDK starts several per link).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
