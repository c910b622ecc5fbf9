package graphsim

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketSlidingWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBucket(3, 10*time.Second)
	for i := range 3 {
		ok, _ := b.take(t0.Add(time.Duration(i) * time.Second))
		require.True(t, ok, "write %d", i)
	}
	assert.InDelta(t, 1.0, b.used(t0.Add(2*time.Second)), 1e-9)
	ok, wait := b.take(t0.Add(2500 * time.Millisecond))
	require.False(t, ok)
	assert.Equal(t, 7500*time.Millisecond, wait, "until the first write leaves the window")
	assert.Equal(t, int64(8), retryAfterSeconds(wait))
	// At exactly t0+10s the first write has left.
	ok, _ = b.take(t0.Add(10 * time.Second))
	require.True(t, ok)
	ok, wait = b.take(t0.Add(10 * time.Second))
	require.False(t, ok)
	assert.Equal(t, time.Second, wait)
	assert.InDelta(t, 1.0/3, b.used(t0.Add(19*time.Second)), 1e-9, "two writes expired by t0+19s")
	assert.Zero(t, b.used(t0.Add(20*time.Second)), "all expired at t0+20s")
}

func TestRetryAfterSecondsRoundsUpToAtLeastOne(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int64{
		0: 1, time.Nanosecond: 1, time.Second: 1, time.Second + 1: 2, 119500 * time.Millisecond: 120, -time.Second: 1,
	} {
		assert.Equal(t, want, retryAfterSeconds(d), "%v", d)
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		path     string
		api, uid string
	}{
		{"/beta/users/a/cloudLicensing/assignments/reprocessAssignments", APIBeta, "a"},
		{"/v1.0/users/a/reprocessLicenseAssignment", APIV1, "a"},
		{"/v1.0/users/('it''s')/reprocessLicenseAssignment", APIV1, "it's"},
		{"/v1.0/users('x')/reprocessLicenseAssignment", APIV1, "x"},
		{"/v1.0/users%28'x'%29/reprocessLicenseAssignment", APIV1, "x"},
		{"/v1.0/users/('')/reprocessLicenseAssignment", "", ""},
		{"/v1.0/users/('a'b')/reprocessLicenseAssignment", "", ""},
		{"/v1.0/users('a')x/reprocessLicenseAssignment", "", ""},
		{"/v1.0/users/%zz/reprocessLicenseAssignment", "", ""},
		{"/v1.0/users/a/reprocessLicenseAssignment/", "", ""},
		{"v1.0/users/a/reprocessLicenseAssignment", "", ""},
		{"/beta/Users/a/cloudLicensing/assignments/reprocessAssignments", "", ""},
		{"", "", ""},
	}
	for _, tc := range cases {
		got := parsePath(tc.path)
		assert.Equal(t, route{api: tc.api, userID: tc.uid}, got, tc.path)
	}
}

// FuzzParsePath checks the router on arbitrary request paths: a match has
// a non-empty id, and escaping that id back into either route (plain or
// key form) names the same user.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/beta/users/a@b.co/cloudLicensing/assignments/reprocessAssignments",
		"/v1.0/users/('$x@y.co')/reprocessLicenseAssignment",
		"/v1.0/users('o''b@y.co')/reprocessLicenseAssignment",
		"/beta/users/x%23EXT%23@y.co/cloudLicensing/assignments/reprocessAssignments",
		"/v1.0/users/%2F/reprocessLicenseAssignment",
		"/nowhere",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt := parsePath(p)
		if rt.api == "" {
			require.Empty(t, rt.userID)
			return
		}
		require.NotEmpty(t, rt.userID)
		esc := url.PathEscape(rt.userID)
		again := parsePath("/v1.0/users/" + esc + "/reprocessLicenseAssignment")
		if !isKeyForm(rt.userID) {
			require.Equal(t, route{api: APIV1, userID: rt.userID}, again)
		}
		key := "('" + url.PathEscape(strings.ReplaceAll(rt.userID, "'", "''")) + "')"
		again = parsePath("/beta/users/" + key + "/cloudLicensing/assignments/reprocessAssignments")
		require.Equal(t, route{api: APIBeta, userID: rt.userID}, again)
	})
}

func TestBucketMemoryFollowsTrafficNotCapacity(t *testing.T) {
	t.Parallel()
	b := newBucket(1<<40, time.Hour)
	ok, _ := b.take(time.Now())
	require.True(t, ok)
	assert.Less(t, cap(b.times), 1024)
}
