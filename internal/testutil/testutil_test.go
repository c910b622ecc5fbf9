package testutil

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFreeAddrIsListenableAndBelowTheEphemeralRange(t *testing.T) {
	t.Parallel()
	addr := FreeAddr(t)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	require.Less(t, p, 32768)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "the address is free")
	require.NoError(t, ln.Close())
}

func TestBuildLicensefixBuildsARunnableBinary(t *testing.T) {
	t.Parallel()
	bin, err := BuildLicensefix(t.TempDir())
	require.NoError(t, err)
	out, err := exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.True(t, strings.HasPrefix(string(out), "licensefix "), "%s", out)
}
