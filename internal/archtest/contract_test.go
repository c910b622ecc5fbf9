package archtest

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/worker"
)

// TestDeadLetterContractAgrees keeps the dead-letter reasons and property
// keys that dlq declares (so it need not import the worker) equal to the
// ones the worker writes.
func TestDeadLetterContractAgrees(t *testing.T) {
	t.Parallel()
	pairs := map[string][2]string{
		"reason":            {dlq.PropReason, worker.PropReason},
		"http status":       {dlq.PropHTTPStatus, worker.PropHTTPStatus},
		"graph error code":  {dlq.PropGraphErrorCode, worker.PropGraphErrorCode},
		"graph request id":  {dlq.PropGraphRequestID, worker.PropGraphRequestID},
		"client request id": {dlq.PropClientRequestID, worker.PropClientRequestID},
		"attempts":          {dlq.PropAttempts, worker.PropAttempts},
		"user id":           {dlq.PropUserID, worker.PropUserID},
		"dead-lettered at":  {dlq.PropDeadLetteredAt, worker.PropDeadLetteredAt},
		"invalid field":     {dlq.PropInvalidField, worker.PropInvalidField},
	}
	for name, p := range pairs {
		assert.Equal(t, p[1], p[0], name)
	}
	assert.Equal(t, []string{dlq.ReasonInvalidMessage, dlq.ReasonUserNotFound, dlq.ReasonGraphRejected, dlq.ReasonRetriesExhausted},
		func() []string {
			var out []string
			for _, r := range worker.Reasons() {
				out = append(out, string(r))
			}
			return out
		}())
}
