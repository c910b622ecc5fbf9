package graph

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/licensefix/licensefix/retry"
	"github.com/stretchr/testify/require"
)

func TestKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{&Error{StatusCode: 429, Class: retry.Transient}, KindThrottled},
		{&Error{StatusCode: 503, Class: retry.Transient}, KindTransient},
		{&Error{StatusCode: 409, Code: "Directory_ConcurrencyViolation", Class: retry.Transient}, KindTransient},
		{&Error{StatusCode: 404, Class: retry.Permanent}, KindNotFound},
		{&Error{StatusCode: 400, Class: retry.Permanent}, KindRejected},
		{&Error{StatusCode: 501, Class: retry.Permanent}, KindRejected},
		{&Error{StatusCode: 401, Class: retry.Systemic}, KindUnauthorized},
		{&Error{StatusCode: 403, Class: retry.Systemic}, KindForbidden},
		{&Error{StatusCode: 307, Class: retry.Systemic, Err: ErrRedirect}, KindMisconfigured},
		{&Error{Class: retry.Systemic, Err: fmt.Errorf("%w: bad secret", ErrToken)}, KindUnauthorized},
		{&Error{Class: retry.Transient, Err: ErrAttemptTimeout}, KindTransient},
		{fmt.Errorf("wrapped: %w", &Error{StatusCode: 429, Class: retry.Transient}), KindThrottled},
		{context.DeadlineExceeded, KindTransient},
		{errors.New("something else"), KindRejected},
	} {
		require.Equal(t, tc.want, KindOf(tc.err), "%v", tc.err)
	}
	require.Equal(t, Kind(0), KindOf(nil))
	require.Equal(t, "throttled", KindThrottled.String())
}
