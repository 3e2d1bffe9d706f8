package daemon

import (
	"context"
	"fmt"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/internal/statuspage"
)

// startStatusPage starts the public status page on its own listener when
// status.listen is set (issue 12.5), and returns how to stop it. A separate
// http.Server keeps the public page apart from the API: nothing on it needs
// or accepts a token.
func (d *daemon) startStatusPage(cfg *config.Config, started func(string)) (func(context.Context), error) {
	if cfg.Status.Listen == "" {
		return func(context.Context) {}, nil
	}
	h, err := statuspage.New(statuspage.Options{
		Source: d.svc.Store(), Name: cfg.Status.Name, ExternalURL: cfg.Status.ExternalURL,
		Logger: d.log.With("component", "statuspage"),
	})
	if err != nil {
		return nil, err
	}
	srv, err := statuspage.Listen(cfg.Status.Listen, h, d.log)
	if err != nil {
		return nil, fmt.Errorf("status.listen: %w", err)
	}
	if started != nil {
		started(srv.Addr())
	}
	d.log.Info("public status page listening", "status_listen", srv.Addr())
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			d.log.Warn("status page did not drain in time", "err", err)
		}
	}, nil
}
