package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is the instructions from one FROM to the next.
type stage struct {
	from         string // image reference
	name         string // AS name
	instructions []instruction
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// parseDockerfile splits a Dockerfile into stages. It handles what this
// repository's Dockerfile uses: comments, parser directives, "\"
// continuations, FROM [--platform] image [AS name].
func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var stages []stage
	var logical strings.Builder
	flush := func() {
		line := strings.TrimSpace(logical.String())
		logical.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			require.NotEmpty(t, f, "FROM without an image")
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			require.Equal(t, "ARG", in.cmd, "only ARG may precede the first FROM")
			return
		}
		s := &stages[len(stages)-1]
		s.instructions = append(s.instructions, in)
	}
	for _, raw := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			logical.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		logical.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, readFile(t, "Dockerfile"))
	require.Len(t, stages, 2, "multi-stage: build, then runtime")
	build, final := stages[0], stages[1]

	// Build: a static, reproducible binary with version and commit stamped.
	assert.Equal(t, "build", build.name)
	assert.True(t, strings.HasPrefix(build.from, "golang:"), build.from)
	args := strings.Join(build.all("ARG"), " ")
	for _, a := range []string{"VERSION", "COMMIT"} {
		assert.Regexp(t, `\b`+a+`\b`, args, "build arg %s", a)
	}
	var goBuild string
	for _, r := range build.all("RUN") {
		if strings.Contains(r, "go build") {
			goBuild = r
		}
	}
	require.NotEmpty(t, goBuild, "a RUN with go build")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "./cmd/licensefix"} {
		assert.Contains(t, goBuild, want)
	}

	// Runtime: distroless static, non-root, licensefix run.
	assert.Equal(t, "gcr.io/distroless/static-debian12:nonroot", final.from)
	copies := final.all("COPY")
	require.Len(t, copies, 1)
	assert.True(t, strings.HasPrefix(copies[0], "--from=build "), "only the binary comes from the build stage")
	users := final.all("USER")
	require.NotEmpty(t, users)
	user := users[len(users)-1]
	assert.NotRegexp(t, `^(0|root)(:|$)`, user, "runs as non-root")
	entry := final.all("ENTRYPOINT")
	require.Len(t, entry, 1)
	binary := strings.Fields(copies[0])[2]
	assert.Equal(t, `["`+binary+`"]`, entry[0], "exec form, the copied binary")
	assert.Equal(t, []string{`["run"]`}, final.all("CMD"), "the image runs licensefix run")
	assert.Contains(t, final.all("EXPOSE"), strings.TrimPrefix(defaultHTTPAddr, ":"))
	assert.Contains(t, strings.Join(final.all("ENV"), " "), "TMPDIR=/tmp")
}

// The -X flags only work while main declares these string variables.
func TestMainHasStampedVariables(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), repoPath(t, "cmd", "licensefix", "main.go"), nil, 0)
	require.NoError(t, err)
	assert.Equal(t, "main", f.Name.Name)
	found := map[string]bool{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				isString := false
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
					isString = true
				}
				if vs.Type == nil && i < len(vs.Values) {
					if bl, ok := vs.Values[i].(*ast.BasicLit); ok && bl.Kind == token.STRING {
						isString = true
					}
				}
				if isString {
					found[n.Name] = true
				}
			}
		}
	}
	assert.True(t, found["version"], "main.version")
	assert.True(t, found["commit"], "main.commit")
}

// dockerignore is a .dockerignore: patterns in order, "!" re-includes.
type dockerignore []struct {
	re      *regexp.Regexp
	exclude bool
}

func parseDockerignore(t *testing.T, text string) dockerignore {
	t.Helper()
	var d dockerignore
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		exclude := true
		if strings.HasPrefix(line, "!") {
			exclude = false
			line = line[1:]
		}
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re      *regexp.Regexp
			exclude bool
		}{regexp.MustCompile(re.String()), exclude})
	}
	return d
}

// excluded reports whether Docker leaves path (slash-separated, relative
// to the context) out of the build context: the last matching pattern for
// the path or any of its parent directories decides.
func (d dockerignore) excluded(path string) bool {
	out := false
	parts := strings.Split(path, "/")
	for _, p := range d {
		for i := 1; i <= len(parts); i++ {
			if p.re.MatchString(strings.Join(parts[:i], "/")) {
				out = p.exclude
				break
			}
		}
	}
	return out
}

var embedRE = regexp.MustCompile(`(?m)^//go:embed (.+)$`)

func TestDockerignoreKeepsWhatTheBuildNeeds(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	ignore := parseDockerignore(t, readFile(t, ".dockerignore"))

	for _, p := range []string{"go.mod", "go.sum", "cmd/licensefix/main.go"} {
		assert.False(t, ignore.excluded(p), "%s is in the build context", p)
	}
	for _, p := range []string{".git/config", "deploy/azure/main.bicep", "worker/worker_test.go", "messages/testdata/fuzz/x", ".env", "docs/deploy.md"} {
		assert.True(t, ignore.excluded(p), "%s stays out of the build context", p)
	}

	// Every non-test Go file outside deploy/ and testdata (so every file a
	// package of the binary can consist of) and every file it embeds.
	var checked int
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "deploy":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		checked++
		assert.False(t, ignore.excluded(rel), "%s is needed to build", rel)
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range embedRE.FindAllStringSubmatch(string(src), -1) {
			for _, pattern := range strings.Fields(m[1]) {
				matches, err := filepath.Glob(filepath.Join(filepath.Dir(p), pattern))
				require.NoError(t, err)
				require.NotEmpty(t, matches, "%s embeds %s", rel, pattern)
				for _, e := range matches {
					erel := filepath.ToSlash(strings.TrimPrefix(e, root+string(filepath.Separator)))
					assert.False(t, ignore.excluded(erel), "%s embeds %s, which must be in the build context", rel, erel)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Positive(t, checked)
}

func TestDockerignoreMatcher(t *testing.T) {
	t.Parallel()
	d := parseDockerignore(t, "**/*.md\n!keep/README.md\nbin\n/docs\n")
	assert.True(t, d.excluded("README.md"))
	assert.True(t, d.excluded("a/b/c.md"))
	assert.False(t, d.excluded("keep/README.md"))
	assert.True(t, d.excluded("bin/licensefix"))
	assert.False(t, d.excluded("cmd/bin.go"))
	assert.True(t, d.excluded("docs/x.txt"))
	assert.False(t, d.excluded("sub/docs/x.txt"))
}
