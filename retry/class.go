package retry

import "strconv"

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
