package dlq

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCanonicalReason(t *testing.T) {
	t.Parallel()
	for _, r := range Reasons() {
		got, ok := CanonicalReason(" " + r + " ")
		assert.True(t, ok, r)
		assert.Equal(t, r, got)
	}
	got, ok := CanonicalReason("usernotfound")
	assert.True(t, ok)
	assert.Equal(t, ReasonUserNotFound, got)
	_, ok = CanonicalReason("Bogus")
	assert.False(t, ok)
	assert.Len(t, Reasons(), 6)
}
