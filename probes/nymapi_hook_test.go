package probes_test

import (
	"context"
	"time"

	"github.com/nymwatch/nymwatch/probes"
	"github.com/nymwatch/nymwatch/probes/nymapi"
)

// The probes tests that start from a real directory fetch use nymapi's
// client through this hook (see directory_hook_test.go).
func init() {
	probes.SetFetchNodes(func(ctx context.Context, baseURL string, timeout time.Duration, retryMax int) ([]probes.Node, error) {
		dc, err := nymapi.NewDirectoryClient(nymapi.DirectoryClientOptions{BaseURL: baseURL, Timeout: timeout, RetryMax: retryMax})
		if err != nil {
			return nil, err
		}
		dir, err := dc.Fetch(ctx)
		return dir.Nodes, err
	})
}
