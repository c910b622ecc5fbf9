package sbemu

import "github.com/licensefix/licensefix/sbemu/internal/amqp"

// AMQP error conditions the emulator sends. The SDKs classify errors by these
// symbols, so they are the emulator's real error API.
const (
	condNotFound          amqp.Symbol = "amqp:not-found"
	condUnauthorized      amqp.Symbol = "amqp:unauthorized-access"
	condNotAllowed        amqp.Symbol = "amqp:not-allowed"
	condInternal          amqp.Symbol = "amqp:internal-error"
	condDecode            amqp.Symbol = "amqp:decode-error"
	condResourceLimit     amqp.Symbol = "amqp:resource-limit-exceeded"
	condNotImplemented    amqp.Symbol = "amqp:not-implemented"
	condInvalidField      amqp.Symbol = "amqp:invalid-field"
	condFramingError      amqp.Symbol = "amqp:connection:framing-error"
	condUnattachedHandle  amqp.Symbol = "amqp:session:unattached-handle"
	condHandleInUse       amqp.Symbol = "amqp:session:handle-in-use"
	condMessageSizeExceed amqp.Symbol = "amqp:link:message-size-exceeded"
	condLockLost          amqp.Symbol = "com.microsoft:message-lock-lost"
	condMessageNotFound   amqp.Symbol = "com.microsoft:message-not-found"
	condArgumentError     amqp.Symbol = "com.microsoft:argument-error"
	condDeadLetter        amqp.Symbol = "com.microsoft:dead-letter"
	condMSNotImplemented  amqp.Symbol = "com.microsoft:not-implemented"
)

// amqpErr builds an *amqp.Error.
func amqpErr(cond amqp.Symbol, desc string) *amqp.Error {
	return &amqp.Error{Condition: cond, Description: desc}
}

// entityNotFound is the description Service Bus gives for a missing
// entity; the Node SDK recognises its wording ("The messaging entity ...
// could not be found").
func entityNotFound(entity string) string {
	return "The messaging entity '" + entity + "' could not be found."
}
