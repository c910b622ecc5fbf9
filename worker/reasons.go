package worker

// Reason is why a message was dead-lettered. The set is closed: these are
// the only values the worker writes as DeadLetterReason and as the
// [PropReason] application property.
type Reason string

// Dead-letter reasons.
const (
	// ReasonInvalidMessage: the body or its CloudEvent attributes failed
	// validation; Graph was not called.
	ReasonInvalidMessage Reason = "InvalidMessage"
	// ReasonUserNotFound: Graph answered 404 for the user.
	ReasonUserNotFound Reason = "UserNotFound"
	// ReasonGraphRejected: Graph answered another permanent 4xx (or 501).
	ReasonGraphRejected Reason = "GraphRejected"
	// ReasonRetriesExhausted: transient failures outlasted the retry budget
	// while Graph was otherwise healthy.
	ReasonRetriesExhausted Reason = "RetriesExhausted"
)

// Reasons returns every dead-letter reason, in a fixed order.
func Reasons() []Reason {
	return []Reason{ReasonInvalidMessage, ReasonUserNotFound, ReasonGraphRejected, ReasonRetriesExhausted}
}

// String returns the reason as written to Service Bus.
func (r Reason) String() string { return string(r) }

// Application property keys set on every dead-lettered message (through
// DeadLetterOptions.PropertiesToModify), so tools such as licensefix dlq can
// filter on them. A key whose fact is unknown (no HTTP response, an invalid
// user id) is left out.
const (
	// PropReason is the [Reason] (string).
	PropReason = "licensefix-reason"
	// PropHTTPStatus is the last Graph HTTP status (int).
	PropHTTPStatus = "licensefix-http-status"
	// PropGraphErrorCode is the last Graph error.code (string).
	PropGraphErrorCode = "licensefix-graph-error-code"
	// PropGraphRequestID is the last Graph request-id (string).
	PropGraphRequestID = "licensefix-graph-request-id"
	// PropClientRequestID is the client-request-id of the last call (string).
	PropClientRequestID = "licensefix-client-request-id"
	// PropAttempts is how many Graph calls were made for the message (int).
	PropAttempts = "licensefix-attempts"
	// PropUserID is the user id, only when the message was valid (string).
	PropUserID = "licensefix-user-id"
	// PropDeadLetteredAt is when the worker dead-lettered the message (RFC 3339 string).
	PropDeadLetteredAt = "licensefix-dead-lettered-at"
	// PropInvalidField names the offending field of an InvalidMessage (string).
	PropInvalidField = "licensefix-invalid-field"
)
