package dlq

// Dead-letter reasons the worker sets, and the two the broker sets itself.
// They are the values of the DeadLetterReason property.
const (
	ReasonInvalidMessage           = "InvalidMessage"
	ReasonUserNotFound             = "UserNotFound"
	ReasonGraphRejected            = "GraphRejected"
	ReasonRetriesExhausted         = "RetriesExhausted"
	ReasonMaxDeliveryCountExceeded = "MaxDeliveryCountExceeded"
	ReasonTTLExpired               = "TTLExpiredException"
)

// Application property keys the worker writes when it dead-letters a message
// (through PropertiesToModify). This package declares them itself so that it
// does not depend on the worker.
const (
	PropReason          = "licensefix-reason"
	PropHTTPStatus      = "licensefix-http-status"
	PropGraphErrorCode  = "licensefix-graph-error-code"
	PropGraphRequestID  = "licensefix-graph-request-id"
	PropClientRequestID = "licensefix-client-request-id"
	PropAttempts        = "licensefix-attempts"
	PropUserID          = "licensefix-user-id"
	PropDeadLetteredAt  = "licensefix-dead-lettered-at"
	PropInvalidField    = "licensefix-invalid-field"
)

// Application property keys the broker uses for the dead-letter reason and
// description.
const (
	PropDeadLetterReason      = "DeadLetterReason"
	PropDeadLetterDescription = "DeadLetterErrorDescription"
)

// Application property keys that Replay writes on each copy it sends.
const (
	// PropReplayCount counts how many times the message has been replayed
	// (an integer; absent means never).
	PropReplayCount = "licensefix-replay-count"
	// PropReplayedFrom is the dead-letter reason of the original the copy
	// was made from.
	PropReplayedFrom = "licensefix-replayed-from"
)

// deadLetterProps are removed from a message when it is replayed.
var deadLetterProps = []string{
	PropDeadLetterReason, PropDeadLetterDescription,
	PropReason, PropHTTPStatus, PropGraphErrorCode, PropGraphRequestID, PropClientRequestID,
	PropAttempts, PropUserID, PropDeadLetteredAt, PropInvalidField,
}
