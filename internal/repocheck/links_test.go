package repocheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docFiles returns every Markdown file of the repository (README.md,
// docs/, and the notes beside the code), relative to the root, with
// slashes.
func docFiles(t *testing.T) []string {
	t.Helper()
	r := root(t)
	var out []string
	err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(r, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, out, "README.md")
	require.Contains(t, out, "docs/deploy.md")
	return out
}

type line struct {
	n    int
	text string
}

var fence = regexp.MustCompile("^\\s*(```|~~~)")

// splitMarkdown splits Markdown into the lines outside and
// inside fenced code blocks.
func splitMarkdown(md string) (prose, code []line) {
	in := false
	for i, l := range strings.Split(md, "\n") {
		if fence.MatchString(l) {
			in = !in
			continue
		}
		if in {
			code = append(code, line{i + 1, l})
		} else {
			prose = append(prose, line{i + 1, l})
		}
	}
	return prose, code
}

func codeLines(md string) []line {
	_, code := splitMarkdown(md)
	return code
}

var (
	inlineCode = regexp.MustCompile("`[^`]*`")
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`^\s*\[[^\]]+\]:\s*(\S+)`)
	heading    = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
)

// links returns the link targets of a Markdown file with their lines.
func links(md string) []line {
	prose, _ := splitMarkdown(md)
	var out []line
	for _, l := range prose {
		if m := refLink.FindStringSubmatch(l.text); m != nil {
			out = append(out, line{l.n, m[1]})
		}
		text := inlineCode.ReplaceAllString(l.text, "")
		for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
			out = append(out, line{l.n, m[1]})
		}
	}
	return out
}

// anchors returns the heading anchors GitHub generates for a Markdown file:
// lower case, punctuation dropped, spaces to hyphens, -1, -2 ... for
// repeats.
func anchors(md string) map[string]bool {
	prose, _ := splitMarkdown(md)
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range prose {
		m := heading.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[2]) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// TestDocLinksResolveInsideTheRepository: every relative link in every
// Markdown file names a file or directory inside the repository, and every
// #anchor a heading of the file it points at.
func TestDocLinksResolveInsideTheRepository(t *testing.T) {
	t.Parallel()
	r := root(t)
	checked := 0
	for _, doc := range docFiles(t) {
		md := read(t, doc)
		for _, l := range links(md) {
			target := l.text
			if regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`).MatchString(target) {
				continue // http:, https:, mailto:
			}
			checked++
			path, anchor, _ := strings.Cut(target, "#")
			where := doc
			if path != "" {
				abs := filepath.Join(r, filepath.Dir(filepath.FromSlash(doc)), filepath.FromSlash(path))
				rel, err := filepath.Rel(r, abs)
				if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					t.Errorf("%s:%d links %s, outside the repository", doc, l.n, target)
					continue
				}
				if _, err := os.Stat(abs); err != nil {
					t.Errorf("%s:%d links %s, which does not exist", doc, l.n, target)
					continue
				}
				where = filepath.ToSlash(rel)
			}
			if anchor != "" && strings.HasSuffix(where, ".md") {
				assert.True(t, anchors(read(t, where))[anchor], "%s:%d links %s: no heading #%s in %s", doc, l.n, target, anchor, where)
			}
		}
	}
	assert.Greater(t, checked, 10, "the link extraction finds the README's links")
}

// TestMentionedDocsExist: a docs/*.md path named in any file of the
// repository (comments in docker-compose.yml, the kustomizations, Go)
// exists.
func TestMentionedDocsExist(t *testing.T) {
	t.Parallel()
	r := root(t)
	mention := regexp.MustCompile(`\bdocs/[A-Za-z0-9_./-]+\.md\b`)
	found := 0
	err := filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range mention.FindAllString(string(b), -1) {
			found++
			_, err := os.Stat(filepath.Join(r, filepath.FromSlash(m)))
			assert.NoError(t, err, "%s mentions %s", p, m)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Positive(t, found)
}

func TestAnchors(t *testing.T) {
	t.Parallel()
	got := anchors("# licensefix\n## Reading the DLQ: `licensefix dlq list`\n```\n# not a heading\n```\n## Permissions and why each is the least that works\n## Scaling\n## Scaling\n")
	assert.Equal(t, map[string]bool{"licensefix": true, "reading-the-dlq-licensefix-dlq-list": true,
		"permissions-and-why-each-is-the-least-that-works": true, "scaling": true, "scaling-1": true}, got)
	assert.Equal(t, []line{{1, "a.md"}, {1, "#b"}, {5, "https://x"}}, links("[x](a.md) and [y](#b) `[z](c.md)`\n```\n[q](d.md)\n```\n[ref]: https://x\n"))
}
