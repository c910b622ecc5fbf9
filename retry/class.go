package retry

import "strconv"

// Class says what a failure means for the message that caused it.
type Class int

// Failure classes.
const (
	// Transient: retry the same call later (408, 429, 5xx, 409 concurrency, network, timeout).
	Transient Class = iota + 1
	// Permanent: this message can never succeed (404, 400, other 4xx).
	Permanent
	// Systemic: the deployment is wrong (401 after a refresh, 403); no message is at fault.
	Systemic
)

// String returns "transient", "permanent" or "systemic", and "class(N)" for
// any other value.
func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Systemic:
		return "systemic"
	default:
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
}
