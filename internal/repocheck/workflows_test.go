package repocheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// actionlintModule is the linter the workflows must pass; the Go module
// proxy serves it, so nothing but the proxy is needed.
const actionlintModule = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

// workflows returns the workflow files.
func workflows(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root(t), ".github", "workflows", "*.yml"))
	require.NoError(t, err)
	require.Len(t, files, 2, "ci.yml and release.yml")
	return files
}

// actionlint builds the pinned actionlint once per test into a temporary
// directory and returns its path.
func actionlint(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "install", actionlintModule)
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go install %s: %s", actionlintModule, out)
	return filepath.Join(bin, "actionlint")
}

// TestWorkflowsPassActionlint runs actionlint (with shellcheck on the run:
// scripts when it is installed; .ci/run installs it) over both workflows,
// and over a broken one to show the check can fail.
func TestWorkflowsPassActionlint(t *testing.T) {
	t.Parallel()
	lint := actionlint(t)
	if _, err := exec.LookPath("shellcheck"); err != nil && os.Getenv("CI") != "" {
		t.Fatal("shellcheck is not installed (.ci/run installs it)")
	}
	var out bytes.Buffer
	cmd := exec.Command(lint, append([]string{"-no-color"}, workflows(t)...)...)
	cmd.Dir = root(t)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "actionlint:\n%s", out.String())

	bad := filepath.Join(t.TempDir(), "bad.yml")
	require.NoError(t, os.WriteFile(bad, []byte("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"${{ github.event.head_commit.message }}\"\n      - uses: actions/checkout@v9999\n        with: {no-such-input: 1}\n"), 0o600))
	out.Reset()
	cmd = exec.Command(lint, "-no-color", bad)
	cmd.Stdout, cmd.Stderr = &out, &out
	assert.Error(t, cmd.Run(), "a broken workflow must fail actionlint")
	assert.Contains(t, out.String(), "potentially untrusted")
}

var usesLine = regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s*(\S+)(.*)$`)

// TestActionsPinnedBySHA: every action is pinned by a full commit SHA with
// the release tag it stands for in a comment.
func TestActionsPinnedBySHA(t *testing.T) {
	t.Parallel()
	pinned := regexp.MustCompile(`^[a-z0-9-]+/[a-z0-9-]+@[0-9a-f]{40}$`)
	tag := regexp.MustCompile(`^\s*# v\d+\.\d+\.\d+$`)
	n := 0
	for _, f := range workflows(t) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range usesLine.FindAllStringSubmatch(string(b), -1) {
			n++
			assert.Regexp(t, pinned, m[1], "%s: %s", filepath.Base(f), m[0])
			assert.Regexp(t, tag, m[2], "%s: %s names its release tag", filepath.Base(f), m[0])
		}
	}
	assert.GreaterOrEqual(t, n, 9)
}

// workflow is the part of a workflow file the tests read.
type workflow struct {
	On   map[string]any `yaml:"on"`
	Env  map[string]string
	Jobs map[string]struct {
		Permissions map[string]string
		Steps       []struct {
			ID   string
			Uses string
			Run  string
			With map[string]any
		}
	}
}

func loadWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	var w workflow
	require.NoError(t, yaml.Unmarshal([]byte(read(t, ".github/workflows/"+name)), &w))
	return w
}

// TestCIRunsTheProjectTestCommand: CI runs .ci/run, which runs the README's
// test command.
func TestCIRunsTheProjectTestCommand(t *testing.T) {
	t.Parallel()
	w := loadWorkflow(t, "ci.yml")
	var runs []string
	for _, s := range w.Jobs["test"].Steps {
		if s.Run != "" {
			runs = append(runs, s.Run)
		}
	}
	assert.Equal(t, []string{".ci/run"}, runs)
	assert.Contains(t, read(t, ".ci/run"), "go test -race -timeout 30m ./...")
	assert.Contains(t, read(t, "README.md"), "go test -race -timeout 30m ./...")
}

// TestReleasePublishesTheDeployedImage: the release builds both
// platforms, pushes to GHCR with SBOM and provenance, signs keyless, and
// the image it publishes is the one deploy/kubernetes runs, at a version
// tag in the example overlay.
func TestReleasePublishesTheDeployedImage(t *testing.T) {
	t.Parallel()
	w := loadWorkflow(t, "release.yml")
	image := w.Env["IMAGE"]
	assert.Equal(t, "ghcr.io/licensefix/licensefix", image)
	push, ok := w.On["push"].(map[string]any)
	require.True(t, ok, "on: push")
	assert.Equal(t, []any{"v[0-9]+.[0-9]+.[0-9]+"}, push["tags"], "only version tags release")

	job := w.Jobs["image"]
	assert.Equal(t, "write", job.Permissions["packages"])
	assert.Equal(t, "write", job.Permissions["id-token"], "keyless signing needs the OIDC token")
	var build map[string]any
	var signed bool
	for _, s := range job.Steps {
		if strings.HasPrefix(s.Uses, "docker/build-push-action@") {
			build = s.With
		}
		if strings.Contains(s.Run, "cosign sign --yes \"${IMAGE}@${DIGEST}\"") {
			signed = true
		}
	}
	require.NotNil(t, build, "a build-push step")
	assert.Equal(t, "linux/amd64,linux/arm64", build["platforms"])
	assert.Equal(t, true, build["push"])
	assert.Equal(t, true, build["sbom"])
	assert.Equal(t, "mode=max", build["provenance"])
	assert.Contains(t, build["build-args"], "VERSION=${{ github.ref_name }}")
	assert.True(t, signed, "the pushed digest is signed with cosign")

	// The overlay renders the published image at a release version.
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root(t), "deploy", "kubernetes", "overlays", "example"))
	require.NoError(t, err)
	var images []string
	for _, res := range rm.Resources() {
		if res.GetKind() != "Deployment" {
			continue
		}
		containers, err := res.GetSlice("spec.template.spec.containers")
		require.NoError(t, err)
		for _, c := range containers {
			images = append(images, c.(map[string]any)["image"].(string))
		}
	}
	require.Len(t, images, 1)
	assert.Regexp(t, "^"+regexp.QuoteMeta(image)+`:\d+\.\d+\.\d+$`, images[0], "a version the release publishes, not latest")
	assert.Contains(t, read(t, "deploy/kubernetes/base/deployment.yaml"), "image: "+image+"\n")
}

// TestACRBuildIsNotSuggestedForABuildKitDockerfile: ACR Tasks' quick build
// (az acr build) runs the classic builder, which rejects RUN --mount and
// does not set $BUILDPLATFORM (Azure/acr#721, Azure/acr#697). As long as
// the Dockerfile uses them, the docs must not send people to it.
func TestACRBuildIsNotSuggestedForABuildKitDockerfile(t *testing.T) {
	t.Parallel()
	df := read(t, "Dockerfile")
	if !strings.Contains(df, "RUN --mount") && !strings.Contains(df, "$BUILDPLATFORM") {
		t.Fatal("the Dockerfile no longer needs BuildKit: this test (and the docs) can change")
	}
	for _, doc := range docFiles(t) {
		for _, line := range codeLines(read(t, doc)) {
			if strings.HasPrefix(strings.TrimSpace(line.text), "az acr build") {
				t.Errorf("%s:%d runs az acr build, which cannot build this Dockerfile: %s", doc, line.n, line.text)
			}
		}
	}
}
