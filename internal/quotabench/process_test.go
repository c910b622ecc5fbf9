package quotabench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/testutil"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/stretchr/testify/require"
)

// binFlag names a licensefix binary for BenchmarkWorkerProcess to measure
// instead of building this tree's, for an A/B run against another commit:
// go test -run '^$' -bench 'WorkerProcess$' -benchtime 1x ./internal/quotabench/ -args -quotabench.bin=/tmp/licensefix-old
var binFlag = flag.String("quotabench.bin", "", "a licensefix binary for BenchmarkWorkerProcess instead of building ./cmd/licensefix")

// procStatus reads a field (in kB) of /proc/<pid>/status.
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// procCPU returns the user+system CPU time of pid from /proc/<pid>/stat.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name's closing parenthesis; utime and stime
	// are the 14th and 15th fields overall, in clock ticks (100 Hz).
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procSwitches is the number of context switches, voluntary and not, of
// pid's threads alive now, from /proc/<pid>/task/*/status.
func procSwitches(pid int) int64 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return -1
	}
	var n int64
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		n += max(procStatus(tid, "voluntary_ctxt_switches"), 0) + max(procStatus(tid, "nonvoluntary_ctxt_switches"), 0)
	}
	return n
}

// procIOCalls is the number of read and write system calls pid has made,
// from /proc/<pid>/io.
func procIOCalls(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			c, _ := strconv.ParseInt(v, 10, 64)
			n += c
		} else if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			c, _ := strconv.ParseInt(v, 10, 64)
			n += c
		}
	}
	return n
}

// stealTicks is the machine's total and stolen CPU time so far, in clock
// ticks, from /proc/stat: on a VM, time the host gave the vCPUs to others.
// A run with much steal measures the host's contention more than the code.
func stealTicks() (total, steal int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i == 7 {
			steal = n
		}
	}
	return total, steal
}

// sample is the number of successful Graph calls at a time since start.
type sample struct {
	at   time.Duration
	done int64
}

// curve is a drain's progress sampled every 200 ms.
type curve []sample

// firstAt is when at least k calls had succeeded.
func (c curve) firstAt(k int64) time.Duration {
	for _, s := range c {
		if s.done >= k {
			return s.at
		}
	}
	return -1
}

// rateAt is the end of the first second-long window in which the success
// rate reached r.
func (c curve) rateAt(r float64) time.Duration {
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if dt := c[j].at - c[i].at; dt >= time.Second {
				if float64(c[j].done-c[i].done)/dt.Seconds() >= r {
					return c[j].at
				}
				break
			}
		}
	}
	return -1
}

// steady is the success rate between the times the fractions lo and hi of
// the final count had succeeded.
func (c curve) steady(lo, hi float64) float64 {
	if len(c) == 0 {
		return 0
	}
	total := float64(c[len(c)-1].done)
	var a, z *sample
	for i := range c {
		if a == nil && float64(c[i].done) >= lo*total {
			a = &c[i]
		}
		if z == nil && float64(c[i].done) >= hi*total {
			z = &c[i]
		}
	}
	if a == nil || z == nil || z.at <= a.at {
		return 0
	}
	return float64(z.done-a.done) / (z.at - a.at).Seconds()
}

// BenchmarkWorkerProcess runs `licensefix run` as its own process against
// the in-process emulator holding a backlog of 10,000 messages and a Graph
// simulator with 100 ms latency and no quota, and reports the worker
// process's peak RSS (VmHWM), its CPU per message and msgs/s ÷ (concurrency
// ÷ latency).
func BenchmarkWorkerProcess(b *testing.B) {
	const n, concurrency = 10000, 16
	latency := 100 * time.Millisecond
	bin := *binFlag
	if bin == "" {
		var err error
		bin, err = testutil.BuildLicensefix(b.TempDir())
		require.NoError(b, err)
	}
	for b.Loop() {
		sb, err := sbemu.NewServer(&sbemu.Options{TB: b})
		require.NoError(b, err)
		gs, err := graphsim.NewServer(graphsim.Options{Latency: latency, MaxRequests: 1})
		require.NoError(b, err)
		client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), clientOptions())
		require.NoError(b, err)
		sendAll(b, client, scenario{users: n, perUser: 1})
		_ = client.Close(context.Background())

		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "run")
		cmd.Env = append(os.Environ(),
			"LICENSEFIX_SERVICEBUS_CONNECTION_STRING="+sb.ConnectionString(),
			"LICENSEFIX_GRAPH_URL="+gs.URL,
			"LICENSEFIX_GRAPH_AUTH=none",
			"LICENSEFIX_HTTP_ADDR="+testutil.FreeAddr(b),
			"LICENSEFIX_LOG_FORMAT=json",
			"LICENSEFIX_LOG_LEVEL=warn",
			fmt.Sprintf("LICENSEFIX_CONCURRENCY=%d", concurrency),
		)
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		require.NoError(b, cmd.Start())
		start := time.Now()
		total0, steal0 := stealTicks()
		pid := cmd.Process.Pid
		var peak int64
		var progress curve
		for {
			time.Sleep(200 * time.Millisecond)
			peak = max(peak, procStatus(pid, "VmHWM"))
			done := gs.QuotaStats().Succeeded
			progress = append(progress, sample{time.Since(start), done})
			if done >= n {
				st, err := sb.QueueStats(sbemu.DefaultQueueName)
				if err == nil && st.Active+st.Locked == 0 {
					break
				}
			}
			if time.Since(start) > 10*time.Minute {
				b.Fatal("the worker did not drain the backlog")
			}
		}
		elapsed := time.Since(start)
		cpu := procCPU(pid)
		switches, ioCalls := procSwitches(pid), procIOCalls(pid)
		total1, steal1 := stealTicks()
		peak = max(peak, procStatus(pid, "VmHWM"))
		cancel()
		_ = cmd.Wait()
		_ = gs.Close()
		rate := float64(n) / elapsed.Seconds()
		b.Logf("drained %d in %s: %.1f msgs/s, peak RSS %d KiB, CPU %s", n, elapsed.Round(time.Millisecond), rate, peak, cpu)
		b.Logf("first success after %s, 90%% of the ideal rate after %s, steady %.1f msgs/s",
			progress.firstAt(1), progress.rateAt(0.9*concurrency/latency.Seconds()), progress.steady(0.2, 0.8))
		b.ReportMetric(rate/(concurrency/latency.Seconds()), "efficiency")
		b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
		b.ReportMetric(float64(cpu.Microseconds())/n/1000, "cpu-ms/msg")
		b.ReportMetric(float64(switches)/n, "ctxsw/msg")
		b.ReportMetric(float64(ioCalls)/n, "rwcalls/msg")
		if total1 > total0 {
			b.ReportMetric(100*float64(steal1-steal0)/float64(total1-total0), "steal-%")
		}
	}
}
