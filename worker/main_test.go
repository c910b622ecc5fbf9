package worker

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// azservicebus v1.11.0 can leave a CBS claim renewer waiting on its
		// own time.After (minutes) once the client is closed. Seen after the
		// emulator drops a connection (TestIntegrationConnectionDropped) and
		// once after quotabench's smoke drain. The SDK's AMQPLinksImpl.Get
		// (internal/amqpLinks.go) checks for missing links under a read lock
		// and creates them under the write lock without checking again, so
		// two callers can both create links (the first set's renewer is
		// never cancelled), or a Get can create links after a permanent
		// Close, whose later closes return early. That goroutine is the
		// SDK's, not ours; every goroutine the worker starts is still
		// checked.
		goleak.IgnoreTopFunction("github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus/internal.(*Namespace).startNegotiateClaimRenewer.func3"),
	)
}
