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
	// PropReplayTo, on a copy replayed from a topic subscription's DLQ,
	// names the one subscription the copy is for ([Endpoints.ReplayTo]).
	// Service Bus sends to a topic, never to one subscription, so the
	// topic's rules route the copy: on every subscription, the filter also
	// requires "licensefix_replay_to IS NULL OR licensefix_replay_to =
	// '<that subscription>'" (README: "Consuming a topic subscription").
	// Unlike the other keys it uses underscores, so that a SQL filter
	// names it without brackets. Replay drops it from the original and
	// writes it only when ReplayTo is set.
	PropReplayTo = "licensefix_replay_to"
)

// deadLetterProps are removed from a message when it is replayed.
var deadLetterProps = []string{
	PropDeadLetterReason, PropDeadLetterDescription,
	PropReason, PropHTTPStatus, PropGraphErrorCode, PropGraphRequestID, PropClientRequestID,
	PropAttempts, PropUserID, PropDeadLetteredAt, PropInvalidField,
}
