package testutil

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func portOf(t *testing.T, addr string) int {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return p
}

func TestFreeAddrIsOutsideTheEphemeralRange(t *testing.T) {
	t.Parallel()
	lo, hi := ephemeralRange()
	p := portOf(t, FreeAddr(t))
	if lo > lowestPort || hi < highestPort {
		assert.False(t, p >= lo && p <= hi, "port %d is in the ephemeral range %d-%d", p, lo, hi)
	}
	assert.GreaterOrEqual(t, p, lowestPort)
	assert.LessOrEqual(t, p, highestPort)
}

func TestFreeAddrSkipsAPortInUse(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	// A second port known to be free a moment ago: taken and given back.
	spare, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sparePort := spare.Addr().(*net.TCPAddr).Port
	require.NoError(t, spare.Close())

	ports := []int{busyPort, sparePort}
	next := func() int { p := ports[0]; ports = ports[1:]; return p }
	assert.Equal(t, sparePort, portOf(t, freeAddr(t, next)), "the port in use is passed over")
}

func TestCandidatesLeaveOutTheEphemeralRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		lo, hi int
		inside func(int) bool
	}{
		{"linux default", 32768, 60999, func(p int) bool { return (p >= 10000 && p < 32768) || (p > 60999 && p <= 65535) }},
		{"only above", 1024, 49151, func(p int) bool { return p >= 49152 && p <= 65535 }},
		{"only below", 49152, 65535, func(p int) bool { return p >= 10000 && p < 49152 }},
		{"everything ephemeral", 1024, 65535, func(p int) bool { return p >= 10000 && p <= 65535 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := candidates(tc.lo, tc.hi)
			for range 10000 {
				if p := next(); !tc.inside(p) {
					t.Fatalf("candidate %d for ephemeral range %d-%d", p, tc.lo, tc.hi)
				}
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]int{
		"32768\t60999\n": {32768, 60999},
		"1024 65535":     {1024, 65535},
		"":               {32768, 60999},
		"a b":            {32768, 60999},
		"60000 50000":    {32768, 60999},
	} {
		lo, hi := parsePortRange(in)
		assert.Equal(t, want, [2]int{lo, hi}, "%q", in)
	}
}

func TestBuildLicensefixBuildsARunnableBinary(t *testing.T) {
	t.Parallel()
	bin, err := BuildLicensefix(t.TempDir())
	require.NoError(t, err)
	out, err := exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.True(t, strings.HasPrefix(string(out), "licensefix "), "%s", out)
}
