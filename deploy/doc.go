// Package deploy holds no Go code of its own: it is the home of the
// deployment files (Kubernetes manifests under kubernetes/, Azure Bicep under
// azure/, the Service Bus emulator's Config.json under servicebus-emulator/)
// and of the tests that load them, together with the top-level Dockerfile and
// docker-compose.yml, the way Docker Compose, kustomize and the worker would.
package deploy
