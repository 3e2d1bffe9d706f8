package daemon

import (
	"fmt"
	"net/http"

	promconfig "github.com/prometheus/common/config"

	"github.com/nymwatch/nymwatch/config"
	"github.com/nymwatch/nymwatch/probes"
)

// outbound holds the clients built from one config's services[].http_config
// blocks. They are built once per load (start, reload), not on every
// directory refresh, so a service target keeps its client (and the
// scheduler sees no change) until the config changes.
type outbound struct {
	cfg      *config.Config
	services map[string]*http.Client // by service name
}

func buildOutbound(cfg *config.Config) (*outbound, error) {
	o := &outbound{cfg: cfg, services: map[string]*http.Client{}}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		if !config.HTTPConfigSet(&s.HTTPConfig) {
			continue
		}
		c, err := probes.NewServiceHTTPClient(proberOptions(cfg), s.HTTPConfig, s.Name)
		if err != nil {
			return nil, fmt.Errorf("services[%d]: %w", i, err)
		}
		o.services[s.Name] = c
	}
	return o, nil
}

// withClients gives each service of cfg the client its http_config built.
// o belongs to one config: for another (a reload in between), nothing.
func (o *outbound) withClients(cfg *config.Config, services []probes.Service) {
	if o == nil || o.cfg != cfg {
		return
	}
	for i := range services {
		services[i].Client = o.services[services[i].Name]
	}
}

// outboundHTTPClient builds the client of a pager or of the directory
// from its http_config, or returns nil (the caller's built-in client)
// when the block is absent. Redirects are never followed.
func outboundHTTPClient(hc *promconfig.HTTPClientConfig, name string) (*http.Client, error) {
	if !config.HTTPConfigSet(hc) {
		return nil, nil
	}
	c, err := promconfig.NewClientFromConfig(*hc, name, promconfig.WithUserAgent(userAgent()))
	if err != nil {
		return nil, fmt.Errorf("http_config: %w", err)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}
