package messages

import (
	"fmt"
	"strconv"
)

// InvalidError says why a message is invalid. It is the only error Decode
// returns; Field names the offending field ("body", "userId", "tenantId",
// "cloudEvents:type", ...). Problem is a short human sentence that never
// echoes more than a bounded, sanitised excerpt of the input.
type InvalidError struct {
	Field   string
	Problem string
}

// Error names the field and the problem.
func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid message: %s: %s", e.Field, e.Problem)
}

// Values of InvalidError.Field. In binary-mode CloudEvents the offending
// application property is named with the canonical "cloudEvents:" prefix
// (for example "cloudEvents:type"), whichever prefix the producer used.
const (
	FieldBody            = "body"
	FieldContentType     = "contentType"
	FieldUserID          = "userId"
	FieldTenantID        = "tenantId"
	FieldCorrelationID   = "correlationId"
	FieldSource          = "source"
	FieldReason          = "reason"
	FieldOccurredAt      = "occurredAt"
	FieldSpecVersion     = "specversion"
	FieldID              = "id"
	FieldType            = "type"
	FieldSubject         = "subject"
	FieldTime            = "time"
	FieldData            = "data"
	FieldDataContentType = "datacontenttype"
)

// maxExcerpt is the most runes of input an error message ever quotes.
const maxExcerpt = 24

// invalid builds an *InvalidError.
func invalid(field, problem string) *InvalidError {
	return &InvalidError{Field: field, Problem: problem}
}

// excerpt returns a short, quoted, ASCII-only rendering of s that is safe to
// put in a log line or a dead-letter description: at most maxExcerpt runes,
// with control, non-ASCII and invalid bytes escaped by strconv.QuoteToASCII.
func excerpt(s string) string {
	n := 0
	for i := range s {
		if n == maxExcerpt {
			return strconv.QuoteToASCII(s[:i]) + "..."
		}
		n++
	}
	return strconv.QuoteToASCII(s)
}
