package monitoring_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/internal/cli"
)

// heading is one Markdown heading: its level, GitHub anchor and the lines
// of its section (up to the next heading of the same or a higher level).
type heading struct {
	level  int
	text   string
	anchor string
	body   []string
}

var (
	atxHeadingRE = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	mdLinkRE     = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	htmlTagRE    = regexp.MustCompile(`<[^>]+>`)
)

// githubAnchor is the id GitHub gives a heading: the rendered text in lower
// case, without punctuation other than "-" and "_", spaces made hyphens;
// the n-th repeat of an anchor gets "-n".
func githubAnchor(text string, seen map[string]int) string {
	text = mdLinkRE.ReplaceAllString(text, "$1")
	text = htmlTagRE.ReplaceAllString(text, "")
	text = strings.NewReplacer("`", "", "*", "").Replace(text)
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r), unicode.IsNumber(r), unicode.IsMark(r), r == '_', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	a := b.String()
	if n := seen[a]; n > 0 {
		seen[a] = n + 1
		return fmt.Sprintf("%s-%d", a, n)
	}
	seen[a] = 1
	return a
}

func TestGithubAnchor(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	for _, tc := range []struct{ text, want string }{
		{"LicensefixNotReady", "licensefixnotready"},
		{"What to check, and what to run", "what-to-check-and-what-to-run"},
		{"Reading the DLQ: `licensefix dlq list`", "reading-the-dlq-licensefix-dlq-list"},
		{"The [runbook](docs/runbook.md) links", "the-runbook-links"},
		{"`licensefix_ready` is 0", "licensefix_ready-is-0"},
		{"Overview", "overview"},
		{"Overview", "overview-1"},
		{"Overview", "overview-2"},
	} {
		assert.Equal(t, tc.want, githubAnchor(tc.text, seen), tc.text)
	}
}

// parseMarkdown returns the headings of a Markdown file, ignoring lines in
// fenced code blocks (a shell comment is not a heading).
func parseMarkdown(t *testing.T, path string) []*heading {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var hs []*heading
	seen := map[string]int{}
	var open []*heading // headings whose section is still open
	inFence := false
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			inFence = !inFence
		}
		if m := atxHeadingRE.FindStringSubmatch(line); m != nil && !inFence {
			h := &heading{level: len(m[1]), text: m[2], anchor: githubAnchor(m[2], seen)}
			for len(open) > 0 && open[len(open)-1].level >= h.level {
				open = open[:len(open)-1]
			}
			open = append(open, h)
			hs = append(hs, h)
			continue
		}
		for _, h := range open {
			h.body = append(h.body, line)
		}
	}
	require.False(t, inFence, "%s: a code fence is not closed", path)
	return hs
}

// codeLines returns the lines inside fenced code blocks.
func codeLines(body []string) []string {
	var out []string
	inFence := false
	for _, line := range body {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			inFence = !inFence
			continue
		}
		if inFence {
			out = append(out, line)
		}
	}
	return out
}

// TestRunbookLinks: every alert's runbook_url resolves to a heading of
// docs/runbook.md, and that section says what to run: a code block with
// licensefix, kubectl or az commands.
func TestRunbookLinks(t *testing.T) {
	t.Parallel()
	byAnchor := map[string]*heading{}
	for _, h := range parseMarkdown(t, runbookFile) {
		byAnchor[h.anchor] = h
	}
	for name, r := range alerts(t) {
		url := r.Annotations["runbook_url"]
		anchor, ok := strings.CutPrefix(url, runbookURLPrefix)
		if !assert.True(t, ok, "%s: runbook_url %q", name, url) {
			continue
		}
		h, ok := byAnchor[anchor]
		if !assert.True(t, ok, "%s: runbook_url %q names no heading of docs/runbook.md", name, url) {
			continue
		}
		var commands int
		for _, l := range codeLines(h.body) {
			f := strings.Fields(l)
			if len(f) > 0 && (f[0] == "licensefix" || f[0] == "kubectl" || f[0] == "az") {
				commands++
			}
		}
		assert.Positive(t, commands, "%s: section %q shows the commands to run", name, h.text)
	}
}

var (
	helpMu    sync.Mutex
	helpCache = map[string]string{}
)

// licensefixHelp runs "licensefix <path> --help" in-process.
func licensefixHelp(t *testing.T, path []string) (string, bool) {
	t.Helper()
	key := strings.Join(path, " ")
	helpMu.Lock()
	defer helpMu.Unlock()
	if h, ok := helpCache[key]; ok {
		return h, true
	}
	var stdout, stderr bytes.Buffer
	e := &cli.Env{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
	if code := cli.Main(context.Background(), e, append(append([]string{}, path...), "--help")); code != cli.ExitOK {
		return stdout.String() + stderr.String(), false
	}
	helpCache[key] = stdout.String() + stderr.String()
	return helpCache[key], true
}

var (
	flagRE       = regexp.MustCompile(`^--[a-z][a-z0-9-]*`)
	subcommandRE = regexp.MustCompile(`^[a-z]+$`)
)

// TestRunbookCommandsExist: every licensefix command line of the runbook
// names a real subcommand and flags that subcommand's --help lists.
func TestRunbookCommandsExist(t *testing.T) {
	t.Parallel()
	var lines []string
	for _, h := range parseMarkdown(t, runbookFile) {
		if h.level == 1 {
			lines = codeLines(h.body) // the whole document
		}
	}
	require.NotEmpty(t, lines)
	var checked int
	for _, l := range lines {
		cmd, _, _ := strings.Cut(l, "|")  // not what is piped into
		cmd, _, _ = strings.Cut(cmd, "#") // nor a comment
		f := strings.Fields(cmd)
		if len(f) == 0 || f[0] != "licensefix" {
			continue
		}
		var path []string
		for _, w := range f[1:] {
			if strings.HasPrefix(w, "-") || !subcommandRE.MatchString(w) || len(path) == 2 {
				break
			}
			path = append(path, w)
		}
		help, ok := licensefixHelp(t, path)
		if !assert.True(t, ok, "runbook: licensefix %s --help fails (%q):\n%s", strings.Join(path, " "), l, help) {
			continue
		}
		for _, w := range f[1:] {
			name, _, _ := strings.Cut(w, "=")
			if fl := flagRE.FindString(name); fl != "" && fl == name {
				assert.Regexp(t, `(^|[\s(,])`+regexp.QuoteMeta(fl)+`\b`, help, "runbook line %q: licensefix %s has no %s", l, strings.Join(path, " "), fl)
			}
		}
		checked++
	}
	assert.Positive(t, checked, "the runbook shows licensefix commands")
}

var relLinkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestRunbookRelativeLinks: the runbook's links into the repository name
// files that exist, and their anchors name headings.
func TestRunbookRelativeLinks(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(runbookFile)
	require.NoError(t, err)
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := map[string]bool{}
		for _, h := range parseMarkdown(t, path) {
			a[h.anchor] = true
		}
		anchors[path] = a
		return a
	}
	var links int
	for _, m := range relLinkRE.FindAllStringSubmatch(string(b), -1) {
		target := m[1]
		if strings.Contains(target, "://") {
			continue
		}
		links++
		file, frag, _ := strings.Cut(target, "#")
		path := runbookFile
		if file != "" {
			path = filepath.Join(filepath.Dir(runbookFile), file)
			_, err := os.Stat(path)
			if !assert.NoError(t, err, "runbook link %s", target) {
				continue
			}
		}
		if frag != "" {
			require.True(t, strings.HasSuffix(path, ".md"), "runbook link %s: an anchor in a Markdown file", target)
			assert.True(t, anchorsOf(path)[frag], "runbook link %s: %s has no heading #%s", target, path, frag)
		}
	}
	assert.Positive(t, links)
}
