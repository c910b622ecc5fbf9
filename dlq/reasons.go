package dlq

import "strings"

// Reasons lists every dead-letter reason a message of the licensefix queue
// can carry: the four the worker sets, then the two the broker sets itself.
func Reasons() []string {
	return []string{
		ReasonInvalidMessage, ReasonUserNotFound, ReasonGraphRejected, ReasonRetriesExhausted,
		ReasonMaxDeliveryCountExceeded, ReasonTTLExpired,
	}
}

// CanonicalReason returns the reason in Reasons that equals s without
// regard to letter case and surrounding space, and false when there is
// none.
func CanonicalReason(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, r := range Reasons() {
		if strings.EqualFold(r, s) {
			return r, true
		}
	}
	return "", false
}
