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
	next := func() int {
		if len(ports) == 0 {
			return busyPort // the spare was taken meanwhile: fail cleanly
		}
		p := ports[0]
		ports = ports[1:]
		return p
	}
	assert.Equal(t, sparePort, portOf(t, freeAddr(t, next)), "the port in use is passed over")
}

func TestOutsideNumbersExactlyThePortsOutsideTheRange(t *testing.T) {
	t.Parallel()
	for _, r := range [][2]int{
		{32768, 60999}, // Linux's default
		{1024, 49151},  // only ports above are left
		{49152, 65535}, // only ports below are left
		{1024, 65535},  // nothing left: all of 10000-65535
		{1024, 9999},   // entirely below 10000
		{10000, 10000}, {20000, 20000}, {65535, 65535}, {10001, 65534},
	} {
		lo, hi := r[0], r[1]
		var want []int
		for p := lowestPort; p <= highestPort; p++ {
			if p < lo || p > hi {
				want = append(want, p)
			}
		}
		if len(want) == 0 {
			for p := lowestPort; p <= highestPort; p++ {
				want = append(want, p)
			}
		}
		n, at := outside(lo, hi)
		got := make([]int, n)
		for i := range n {
			got[i] = at(i)
		}
		assert.Equal(t, want, got, "ephemeral range %d-%d", lo, hi)
	}
}

func TestCandidatesStayOutsideTheRange(t *testing.T) {
	t.Parallel()
	next := candidates(32768, 60999)
	for range 10000 {
		p := next()
		require.True(t, (p >= lowestPort && p < 32768) || (p > 60999 && p <= highestPort), "candidate %d", p)
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
