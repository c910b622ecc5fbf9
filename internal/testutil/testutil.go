// Package testutil holds the helpers that several packages' tests share:
// a free loopback address and a freshly built licensefix binary. Only test
// files import it.
package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
)

// module is the import path of this module.
const module = "github.com/licensefix/licensefix"

// FreeAddr returns a loopback address that nothing listened on a moment
// ago. Its port is below Linux's ephemeral range (32768-60999): a dial to a
// free port in that range can pick the same port as its source and connect
// to itself, which looks like a server that answers nothing.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			tb.Fatalf("closing %s: %v", addr, err)
		}
		return addr
	}
	tb.Fatal("no free loopback port below the ephemeral range")
	return ""
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
