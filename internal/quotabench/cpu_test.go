package quotabench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/cli"
	"github.com/licensefix/licensefix/internal/testutil"
	"github.com/stretchr/testify/require"
)

// rusageCPU is this process's user+system CPU time so far.
func rusageCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startChild runs the built binary with args and returns the first line
// it prints on stdout; the process is interrupted at cleanup.
func startChild(tb testing.TB, bin string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	require.NoError(tb, err)
	cmd.Stderr = io.Discard
	require.NoError(tb, cmd.Start())
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(tb, err, "%s printed nothing", args[0])
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return strings.TrimSpace(line)
}

// BenchmarkWorkerCPU is BenchmarkWorkerProcess turned inside out: the
// emulator and the Graph simulator run as child processes and `licensefix
// run` runs in this process, so that
//
//	go test -run '^$' -bench WorkerCPU -benchtime 1x -cpuprofile cpu.prof ./internal/quotabench/
//
// profiles the worker alone. It reports the same CPU per message as
// BenchmarkWorkerProcess, measured with getrusage after the backlog is sent.
func BenchmarkWorkerCPU(b *testing.B) {
	const n, concurrency = 10000, 16
	bin, err := testutil.BuildLicensefix(b.TempDir())
	require.NoError(b, err)
	for b.Loop() {
		conn := startChild(b, bin, "emulator", "--listen", testutil.FreeAddr(b))
		gsAddr := testutil.FreeAddr(b)
		startChild(b, bin, "graphsim", "--listen", gsAddr, "--latency", "100ms", "--log-format", "json")
		gsURL := "http://" + gsAddr
		control := graphsim.Control{URL: gsURL}

		client, err := azservicebus.NewClientFromConnectionString(conn, clientOptions())
		require.NoError(b, err)
		sendAll(b, client, scenario{users: n, perUser: 1})
		_ = client.Close(context.Background())

		env := map[string]string{
			"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": conn,
			"LICENSEFIX_GRAPH_URL":                    gsURL,
			"LICENSEFIX_GRAPH_AUTH":                   "none",
			"LICENSEFIX_HTTP_ADDR":                    testutil.FreeAddr(b),
			"LICENSEFIX_LOG_FORMAT":                   "json",
			"LICENSEFIX_LOG_LEVEL":                    "warn",
			"LICENSEFIX_CONCURRENCY":                  fmt.Sprint(concurrency),
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		cpu0, start := rusageCPU(b), time.Now()
		go func() {
			done <- cli.Main(ctx, &cli.Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""),
				Stdout: io.Discard, Stderr: io.Discard}, []string{"run"})
		}()
		for {
			time.Sleep(200 * time.Millisecond)
			st, err := control.QuotaStats(context.Background())
			require.NoError(b, err)
			if st.Succeeded >= n {
				break
			}
			if time.Since(start) > 10*time.Minute {
				b.Fatal("the worker did not drain the backlog")
			}
		}
		elapsed, cpu := time.Since(start), rusageCPU(b)-cpu0
		cancel()
		<-done
		b.Logf("drained %d in %s, CPU %s", n, elapsed.Round(time.Millisecond), cpu)
		b.ReportMetric(float64(cpu.Microseconds())/n/1000, "cpu-ms/msg")
		b.ReportMetric(float64(n)/elapsed.Seconds()/(concurrency/0.1), "efficiency")
	}
}
