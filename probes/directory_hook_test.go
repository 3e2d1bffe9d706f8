package probes

import (
	"context"
	"time"
)

// fetchNodes fetches the nodes of the nym-api at baseURL with the directory
// client of probes/nymapi. probes cannot import probes/nymapi (which
// imports probes), so the external test package sets it once, before any
// test runs (nymapi_hook_test.go). timeout and retryMax are
// nymapi.DirectoryClientOptions' Timeout and RetryMax.
var fetchNodes func(ctx context.Context, baseURL string, timeout time.Duration, retryMax int) ([]Node, error)

// SetFetchNodes is for nymapi_hook_test.go.
func SetFetchNodes(f func(ctx context.Context, baseURL string, timeout time.Duration, retryMax int) ([]Node, error)) {
	fetchNodes = f
}
