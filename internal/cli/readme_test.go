package cli

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/logging"
	"github.com/licensefix/licensefix/internal/sbconn"
	"github.com/licensefix/licensefix/retry"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/licensefix/licensefix/worker"
)

// readmeOutput returns the code block that follows the marker
// "<!-- output: name -->" in the README: an example of what a command
// prints, which the tests below hold to what it really prints.
func readmeOutput(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	marker := "<!-- output: " + name + " -->"
	_, after, ok := strings.Cut(string(b), marker)
	require.True(t, ok, "README has no %s", marker)
	m := regexp.MustCompile("(?s)^\\s*```[a-z]*\\n(.*?)```").FindStringSubmatch(after)
	require.NotNil(t, m, "a code block follows %s", marker)
	return m[1]
}

// columns splits a table line at runs of two or more spaces.
func columns(line string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
}

// waitDLQ polls the dead-letter queue until ok accepts its messages.
func waitDLQ(t *testing.T, srv *sbemu.Server, ok func([]*azservicebus.ReceivedMessage) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok(peekAll(t, srv, azservicebus.SubQueueDeadLetter)) {
		require.True(t, time.Now().Before(deadline), "dead-letter queue did not reach the expected state")
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadmeDLQListExample produces the README's dlq list example for real:
// the worker dead-letters an unknown and a rejected demo user against the
// Graph simulator, a replay of GraphRejected defers the unknown one on the
// way and the worker dead-letters the replayed copy again; then the table
// dlq list prints must be the README's, except for sequence numbers and
// times.
func TestReadmeDLQListExample(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	sim, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	defer sim.Close()
	sim.LoadScenario(graphsim.DemoScenario())
	gclient, err := graph.New(graph.Config{RootURL: sim.URL, Auth: graph.AuthNone})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	cfg := worker.Config{Concurrency: 2, ReceiveWait: time.Second,
		Retry: retry.Policy{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsed: 5 * time.Second, Multiplier: 2}}
	go func() {
		served <- serve(ctx, logging.Discard(), sbconn.Options{ConnectionString: srv.ConnectionString()}, entity{queue: sbemu.DefaultQueueName}, "127.0.0.1:0", cfg, gclient)
	}()
	defer func() { cancel(); <-served }()

	for i, user := range []string{graphsim.DemoUnknownUser, graphsim.DemoRejectedUser} {
		code, _, errOut := runCLIStdin(t, env, "", "send", "--user-id", user)
		require.Equal(t, ExitOK, code, errOut)
		waitDLQ(t, srv, func(m []*azservicebus.ReceivedMessage) bool { return len(m) == i+1 })
	}
	code, out, errOut := runCLIStdin(t, env, "", "dlq", "replay", "--reason", "GraphRejected")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "replayed 1, skipped 0, failed 0; deferred 1")
	waitDLQ(t, srv, func(m []*azservicebus.ReceivedMessage) bool {
		return len(m) == 2 && dlq.NewEntry(m[1]).ReplayCount == 1
	})

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "list")
	require.Equal(t, ExitOK, code, errOut)
	want := strings.Split(strings.TrimRight(readmeOutput(t, "dlq-list"), "\n"), "\n")
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, got, len(want), "README:\n%s\nprinted:\n%s", strings.Join(want, "\n"), out)
	assert.Equal(t, columns(want[0]), columns(got[0]), "header")
	for i := 1; i < len(want); i++ {
		w, g := columns(want[i]), columns(got[i])
		require.Len(t, g, len(w), "row %d printed: %s", i, got[i])
		assert.Regexp(t, `^\d+$`, w[0])
		assert.Regexp(t, `^\d+$`, g[0])
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, w[1], "README row %d time", i)
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, g[1])
		assert.Equal(t, w[2:], g[2:], "row %d: README says\n%s\nlist prints\n%s", i, want[i], got[i])
	}
}

// TestReadmeReplaySummaryExample: the replay summary the README quotes is
// what a Report with those counts prints.
func TestReadmeReplaySummaryExample(t *testing.T) {
	t.Parallel()
	rep := &dlq.Report{Replayed: make([]dlq.Moved, 12), Skipped: []dlq.Skipped{{Why: dlq.SkipReplayLimit}}, Deferred: []int64{3, 5, 8}}
	assert.Equal(t, rep.String()+"\n", readmeOutput(t, "dlq-replay-summary"))
}

// TestReadmePurgeExamples: the purge summaries the README quotes are what
// reports with those counts print.
func TestReadmePurgeExamples(t *testing.T) {
	t.Parallel()
	dry := &dlq.PurgeReport{DryRun: true, Selected: make([]dlq.Purgeable, 3)}
	done := &dlq.PurgeReport{Purged: make([]dlq.Purged, 3), Deferred: []int64{4}}
	assert.Equal(t, dry.String()+"\n"+done.String()+"\n", readmeOutput(t, "dlq-purge-summary"))
}
