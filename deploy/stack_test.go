package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/licensefix/licensefix/internal/cli"
	"github.com/licensefix/licensefix/internal/testutil"
	"github.com/licensefix/licensefix/worker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is an io.Writer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// composeService is one compose service made runnable in-process: its
// arguments and environment, with container paths replaced by the host
// files compose would mount and with addresses rewritten by rewrite.
func composeService(t *testing.T, s types.ServiceConfig, rewrite *strings.Replacer) ([]string, map[string]string) {
	t.Helper()
	mounts := map[string]string{}
	for _, v := range s.Volumes {
		mounts[v.Target] = v.Source
	}
	mapValue := func(v string) string {
		if src, ok := mounts[v]; ok {
			return src
		}
		return rewrite.Replace(v)
	}
	var args []string
	for _, a := range s.Command {
		args = append(args, mapValue(a))
	}
	env := map[string]string{}
	for k, v := range envOf(s) {
		env[k] = mapValue(v)
	}
	return args, env
}

// runningCommand is a licensefix subcommand running in a goroutine.
type runningCommand struct {
	name   string
	out    *syncBuffer
	done   chan struct{}
	code   int
	cancel context.CancelFunc
}

func startCommand(t *testing.T, name string, args []string, env map[string]string) *runningCommand {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rc := &runningCommand{name: name, out: &syncBuffer{}, done: make(chan struct{}), cancel: cancel}
	e := &cli.Env{
		Getenv: func(k string) string { return env[k] },
		Stdin:  strings.NewReader(""),
		Stdout: rc.out,
		Stderr: rc.out,
	}
	go func() {
		defer close(rc.done)
		rc.code = cli.Main(ctx, e, args)
	}()
	return rc
}

// stop cancels the command and waits for it, as SIGTERM would.
func (rc *runningCommand) stop(t *testing.T) {
	t.Helper()
	rc.cancel()
	select {
	case <-rc.done:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not stop within a minute", rc.name)
	}
	assert.Equal(t, cli.ExitOK, rc.code, "%s exits 0 on stop:\n%s", rc.name, rc.out.String())
}

func waitListening(t *testing.T, rc *runningCommand, addr string) {
	t.Helper()
	exited := func() bool {
		select {
		case <-rc.done:
			return true
		default:
			return false
		}
	}
	require.Eventually(t, func() bool {
		if exited() {
			return true
		}
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 30*time.Second, 20*time.Millisecond, "%s listens on %s", rc.name, addr)
	require.False(t, exited(), "%s exited with %d:\n%s", rc.name, rc.code, rc.out.String())
}

// TestComposeStackInProcess runs the default profile of docker-compose.yml
// without Docker: each service's own subcommand, arguments, environment and
// mounted files, in-process, with only the addresses moved to free loopback
// ports. It is what "docker compose up" shows: every demo user is
// reprocessed or dead-lettered for the documented reason, and the worker
// serves the probe and metrics paths the Kubernetes manifests use.
func TestComposeStackInProcess(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, nil)
	emuListen := envOf(p.Services["emulator"])["LICENSEFIX_EMULATOR_LISTEN"]
	_, emuPort, err := net.SplitHostPort(emuListen)
	require.NoError(t, err)
	gsListen := envOf(p.Services["graphsim"])["LICENSEFIX_GRAPHSIM_LISTEN"]
	workerHTTP := envOf(p.Services["worker"])["LICENSEFIX_HTTP_ADDR"]

	emuAddr, gsAddr, httpAddr := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	rewrite := strings.NewReplacer(
		emuListen, emuAddr, // the emulator's own listen address
		"sb://emulator:"+emuPort, "sb://"+emuAddr, // others reach it by service name
		gsListen, gsAddr, // graphsim listens, and the worker calls, on loopback
	)
	start := func(name string) *runningCommand {
		args, env := composeService(t, p.Services[name], rewrite)
		if name == "worker" {
			require.Equal(t, defaultHTTPAddr, workerHTTP)
			env["LICENSEFIX_HTTP_ADDR"] = httpAddr
		}
		return startCommand(t, name, args, env)
	}

	emu := start("emulator")
	defer emu.stop(t)
	waitListening(t, emu, emuAddr)
	gs := start("graphsim")
	defer gs.stop(t)
	waitListening(t, gs, gsAddr)
	w := start("worker")
	defer w.stop(t)
	waitListening(t, w, httpAddr)

	sendArgs, sendEnv := composeService(t, p.Services["send"], rewrite)
	send := startCommand(t, "send", sendArgs, sendEnv)
	<-send.done
	require.Equal(t, cli.ExitOK, send.code, send.out.String())
	assert.Contains(t, send.out.String(), fmt.Sprintf("sent %d\n", len(demoUsers(t))), "every demo user is queued")

	// Every message is settled: nothing left in the queue, and exactly the
	// unknown and the rejected user in the dead-letter queue.
	cs := envOf(p.Services["worker"])["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"]
	client, err := azservicebus.NewClientFromConnectionString(rewrite.Replace(cs), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defer func() { assert.NoError(t, client.Close(ctx)) }()
	queue := envOf(p.Services["worker"])["LICENSEFIX_QUEUE"]
	// sub 0 is the queue itself (the SDK names no constant for it).
	reasons := func(sub azservicebus.SubQueue) ([]string, error) {
		r, err := client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: sub})
		if err != nil {
			return nil, err
		}
		defer func() { _ = r.Close(ctx) }()
		msgs, err := r.PeekMessages(ctx, 100, nil)
		if err != nil {
			return nil, err
		}
		out := []string{}
		for _, m := range msgs {
			reason := ""
			if m.DeadLetterReason != nil {
				reason = *m.DeadLetterReason
			}
			out = append(out, reason)
		}
		sort.Strings(out)
		return out, nil
	}
	want := []string{string(worker.ReasonGraphRejected), string(worker.ReasonUserNotFound)}
	var active, dead []string
	var peekErr error
	settled := assert.Eventually(t, func() bool {
		if active, peekErr = reasons(0); peekErr != nil {
			return false
		}
		if dead, peekErr = reasons(azservicebus.SubQueueDeadLetter); peekErr != nil {
			return false
		}
		return len(active) == 0 && assert.ObjectsAreEqual(want, dead)
	}, 90*time.Second, 250*time.Millisecond)
	if !settled {
		t.Fatalf("queue %v, dead-letter queue %v, last peek error %v; worker log:\n%s", active, dead, peekErr, w.out.String())
	}

	// The worker serves the paths the Deployment probes and the
	// ServiceMonitor scrapes, on the port they use.
	b := buildBase(t, "deploy/kubernetes")
	c := b.container(t)
	o := build(t, "deploy/kubernetes/overlays/example")
	metricsPath := path.Clean(fmt.Sprint(pathOf(t, o.unstructured(t, "ServiceMonitor"), "spec", "endpoints", 0, "path")))
	for _, pth := range []string{c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path, metricsPath} {
		resp, err := http.Get("http://" + httpAddr + pth)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", pth, body)
		if pth == metricsPath {
			assert.Contains(t, string(body), "licensefix_messages_total")
		}
	}
}
