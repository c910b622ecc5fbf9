package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	l, err := ParseLevel("DEBUG")
	require.NoError(t, err)
	assert.Equal(t, slog.LevelDebug, l)
	_, err = ParseLevel("loud")
	assert.Error(t, err)
	f, err := ParseFormat("JSON")
	require.NoError(t, err)
	assert.Equal(t, FormatJSON, f)
	_, err = ParseFormat("xml")
	assert.Error(t, err)
}

func TestAutoIsJSONWhenNotATerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, FormatAuto, slog.LevelInfo).Info("message_completed", "user_id", "u1")
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	assert.Equal(t, "message_completed", m["msg"])
	assert.Equal(t, "u1", m["user_id"])
}

func TestTextAndLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := New(&buf, FormatText, slog.LevelWarn)
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	assert.NotContains(t, buf.String(), "hidden")
	assert.Contains(t, buf.String(), "shown")
	assert.Contains(t, buf.String(), "k=v")
}

func TestJSONDurationsAreHumanReadable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, FormatJSON, slog.LevelInfo).Info("waited",
		slog.Duration("retry_after", 1500*time.Millisecond),
		slog.Group("call", slog.Duration("latency", 250*time.Millisecond)),
		slog.Int("attempts", 3))
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "1.5s", line["retry_after"])
	assert.Equal(t, map[string]any{"latency": "250ms"}, line["call"])
	assert.InDelta(t, 3, line["attempts"], 0, "other kinds are untouched")
	d, err := time.ParseDuration(line["retry_after"].(string))
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, d)
}
