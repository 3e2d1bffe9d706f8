// Package docs holds nymwatch's reference documentation (Markdown) and the
// OpenAPI description of its HTTP API. It has no code: its tests keep the
// links between README.md and these pages working, and check openapi.yaml
// against a running daemon.
package docs
