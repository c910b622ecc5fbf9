// Package testutil holds the helpers that several packages' tests share:
// a free loopback address and a freshly built licensefix binary. Only test
// files import it.
package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// module is the import path of this module.
const module = "github.com/licensefix/licensefix"

// Ports FreeAddr chooses from, before the ephemeral range is taken out.
const (
	lowestPort  = 10000
	highestPort = 65535
)

// FreeAddr returns a loopback address that nothing listened on a moment
// ago. Its port is outside the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default): a port
// in that range can be taken at any moment as the source port of some other
// process's outgoing connection, and a dial to a free port in it can pick
// the same port as its source and connect to itself, which looks like a
// server that answers nothing. Where the ephemeral range leaves no port of
// 10000-65535 outside it, FreeAddr chooses from all of them.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	lo, hi := ephemeralRange()
	return freeAddr(tb, candidates(lo, hi))
}

// freeAddr tries up to 100 ports from next and returns the first one a
// listener could bind.
func freeAddr(tb testing.TB, next func() int) string {
	tb.Helper()
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(next()))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			tb.Fatalf("closing %s: %v", addr, err)
		}
		return addr
	}
	tb.Fatal("no free loopback port outside the ephemeral range")
	return ""
}

// candidates returns a function that picks ports at random from
// lowestPort-highestPort without the ephemeral range lo-hi.
func candidates(lo, hi int) func() int {
	n, at := outside(lo, hi)
	return func() int { return at(rand.IntN(n)) }
}

// outside numbers the ports of lowestPort-highestPort outside lo-hi: there
// are n, and at(i) is the i-th for i in [0, n). When lo-hi leaves none
// outside, it numbers all of lowestPort-highestPort.
func outside(lo, hi int) (n int, at func(int) int) {
	below := max(0, min(lo, highestPort+1)-lowestPort) // lowestPort .. lo-1
	above := max(0, highestPort-max(hi, lowestPort-1)) // hi+1 .. highestPort
	if below+above == 0 {
		return highestPort - lowestPort + 1, func(i int) int { return lowestPort + i }
	}
	return below + above, func(i int) int {
		if i < below {
			return lowestPort + i
		}
		return max(hi, lowestPort-1) + 1 + (i - below)
	}
}

// ephemeralRange reads the kernel's ephemeral port range; where it cannot
// (not Linux, or no /proc), it returns Linux's default.
func ephemeralRange() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768, 60999
	}
	return parsePortRange(string(b))
}

// parsePortRange parses ip_local_port_range's "low<whitespace>high"; what it
// cannot parse gives Linux's default.
func parsePortRange(s string) (lo, hi int) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 32768, 60999
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo > hi {
		return 32768, 60999
	}
	return lo, hi
}

// BuildLicensefix builds cmd/licensefix into dir and returns the binary's
// path; the error carries the compiler's output.
func BuildLicensefix(dir string) (string, error) {
	bin := filepath.Join(dir, "licensefix")
	out, err := exec.Command("go", "build", "-o", bin, module+"/cmd/licensefix").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s/cmd/licensefix: %v\n%s", module, err, out)
	}
	return bin, nil
}
