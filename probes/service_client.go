package probes

import (
	"fmt"
	"net/http"

	promconfig "github.com/prometheus/common/config"
)

// NewServiceHTTPClient builds the client of a centralized service that has
// an http_config (private CA, client certificate, auth, proxy), as
// Prometheus builds a scrape client. What the probe client guarantees is
// kept: the probe's dialer (probes.source_address), a fresh connection
// per probe, one attempt, and no redirect ever followed. Node probes never
// use it: their client refuses non-public addresses at dial time.
func NewServiceHTTPClient(o ProberOptions, hc promconfig.HTTPClientConfig, name string) (*http.Client, error) {
	o = o.withDefaults()
	d := newProbeDialer(o)
	c, err := promconfig.NewClientFromConfig(hc, "service-"+name,
		promconfig.WithDialContextFunc(d.DialContext),
		promconfig.WithKeepAlivesDisabled(),
		promconfig.WithUserAgent(o.UserAgent))
	if err != nil {
		return nil, fmt.Errorf("service %s: http_config: %w", name, err)
	}
	c.CheckRedirect = noRedirects
	return c, nil
}
