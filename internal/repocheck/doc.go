// Package repocheck holds the tests of repository files that no Go package
// owns: the GitHub workflows (actionlint, pinned actions, the published
// image against the one deploy/ runs) and the documentation (every link in
// README.md and docs/ resolves inside the repository). It has no code of
// its own; `go test ./...` runs it with everything else.
package repocheck
