package detector

import (
	"errors"
	"fmt"
	"time"
)

// Options are the detector's thresholds. A zero field takes its default
// (listed on each field); config's classification.* keys map onto them.
// See docs/classification.md for how each one
// is used.
type Options struct {
	// FailureThreshold: consecutive failed observations before a target
	// counts as failing (probes.failure_threshold). Default 3.
	FailureThreshold int
	// RecoveryThreshold: consecutive good observations before a failing
	// target counts as healthy again (probes.recovery_threshold). Default 2.
	RecoveryThreshold int

	// FlapTransitions state changes of one target within FlapWindow make it
	// flapping: it is then held failing (its anomaly stays open) until it is
	// stable again. Defaults 4 and 10m.
	FlapTransitions int
	FlapWindow      time.Duration

	// GatewayFailureRatio of a role's gateways (entry or exit), and at least
	// MinFailingGateways of them, failing is operational. Defaults 0.10, 2.
	GatewayFailureRatio float64
	MinFailingGateways  int
	// MixnodeFailureRatio of one mix layer's nodes, and at least
	// MinFailingMixnodes, failing is operational. Defaults 0.25, 2.
	MixnodeFailureRatio float64
	MinFailingMixnodes  int
	// CountryFailureRatio of one country's gateways (entry and exit; mix
	// nodes are judged by layer), and at least CountryMinNodes of them,
	// failing together is operational (third-party infrastructure).
	// Defaults 0.5, 3. Every gateway of a country failing is operational
	// too when it has at least MinFailingGateways of them.
	CountryFailureRatio float64
	CountryMinNodes     int

	// ServiceFailureFor: how long a centralized service must stay failing
	// (after FailureThreshold) before it is operational; until then its
	// anomaly is internal. Default 0 (at once).
	ServiceFailureFor time.Duration

	// DegradationSustain: how long a degradation (slow service, success
	// ratio or latency worse than baseline) must last to be operational.
	// Default 5m.
	DegradationSustain time.Duration
	// BaselineWindow: the recent history a component's baseline is the
	// median of. Default 1h.
	BaselineWindow time.Duration
	// BaselineMinSamples: samples needed before a baseline is trusted.
	// Default 10.
	BaselineMinSamples int
	// SuccessRatioDrop: success ratio this far (absolute) below its baseline
	// is degraded. Default 0.2.
	SuccessRatioDrop float64
	// LatencyFactor: median latency above baseline × factor, and at least
	// LatencyMinIncrease above it, is degraded. Defaults 3, 100ms.
	LatencyFactor      float64
	LatencyMinIncrease time.Duration

	// VantageControlFailureRatio of control targets failing together with
	// VantageNetworkFailureRatio of every other target means the monitor
	// itself is cut off. Defaults 0.5 and 0.8.
	VantageControlFailureRatio float64
	VantageNetworkFailureRatio float64
	// Without control targets: VantageFallbackRatio of all targets (at least
	// VantageFallbackMinTargets of them) failing at once is taken as the
	// monitor being cut off. Defaults 0.95, 10.
	VantageFallbackRatio      float64
	VantageFallbackMinTargets int
	// VantageConfirmWithin: with control targets configured, an operational
	// decision waits (at most this long) for a control-target observation
	// made after the failures began, so a cut-off first seen on nodes is
	// never paged. Default 2m.
	VantageConfirmWithin time.Duration

	// AlertArchitecture is the architecture of an alert that does not say
	// (no architecture, service or component label). Default centralized:
	// the team's own Prometheus watches the team's own services.
	AlertArchitecture Architecture

	// Cluster: several vantage points agreeing by quorum (none: a single
	// instance). See quorum.go.
	Cluster ClusterOptions

	// Metrics, if set, receives transitions and open counts.
	Metrics *Metrics

	// PromotionLookback: a target failing for longer than this when its
	// anomaly becomes disclosable is background, not counted in its
	// first_seen (classification.promotion_lookback). Default 30m.
	PromotionLookback time.Duration
	// AlertMaxFiring bounds the firing Alertmanager alerts held (new ones
	// beyond it are rejected; security alerts have a reserve of a tenth
	// more). AlertMaxGroups bounds the alert groups with an anomaly of their
	// own; further groups share one anomaly per class. Defaults 5000, 50.
	AlertMaxFiring int
	AlertMaxGroups int
}

// Defaults of Options, exported for documentation and config.
const (
	DefaultFailureThreshold           = 3
	DefaultRecoveryThreshold          = 2
	DefaultFlapTransitions            = 4
	DefaultFlapWindow                 = 10 * time.Minute
	DefaultGatewayFailureRatio        = 0.10
	DefaultMinFailingGateways         = 2
	DefaultMixnodeFailureRatio        = 0.25
	DefaultMinFailingMixnodes         = 2
	DefaultCountryFailureRatio        = 0.5
	DefaultCountryMinNodes            = 3
	DefaultDegradationSustain         = 5 * time.Minute
	DefaultBaselineWindow             = time.Hour
	DefaultBaselineMinSamples         = 10
	DefaultSuccessRatioDrop           = 0.2
	DefaultLatencyFactor              = 3.0
	DefaultLatencyMinIncrease         = 100 * time.Millisecond
	DefaultVantageControlFailureRatio = 0.5
	DefaultVantageNetworkFailureRatio = 0.8
	DefaultVantageFallbackRatio       = 0.95
	DefaultVantageFallbackMinTargets  = 10
	DefaultVantageConfirmWithin       = 2 * time.Minute
)

// DefaultPromotionLookback is the default of Options.PromotionLookback.
const DefaultPromotionLookback = 30 * time.Minute

// maxSamples bounds a component's baseline history whatever the window.
const maxSamples = 4096

// Validate reports every out-of-range field (zero is fine: it means default).
func (o Options) Validate() error {
	var errs []error
	neg := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative", name, v))
		}
	}
	negd := func(name string, v time.Duration) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s is negative", name, v))
		}
	}
	ratio := func(name string, v float64) {
		if v < 0 || v > 1 || v != v {
			errs = append(errs, fmt.Errorf("%s: %v is not a ratio in (0,1]", name, v))
		}
	}
	neg("FailureThreshold", o.FailureThreshold)
	neg("RecoveryThreshold", o.RecoveryThreshold)
	neg("FlapTransitions", o.FlapTransitions)
	if o.FlapTransitions == 1 {
		errs = append(errs, errors.New("FlapTransitions: 1 would make every state change a flap; use 2 or more"))
	}
	negd("FlapWindow", o.FlapWindow)
	ratio("GatewayFailureRatio", o.GatewayFailureRatio)
	neg("MinFailingGateways", o.MinFailingGateways)
	ratio("MixnodeFailureRatio", o.MixnodeFailureRatio)
	neg("MinFailingMixnodes", o.MinFailingMixnodes)
	ratio("CountryFailureRatio", o.CountryFailureRatio)
	neg("CountryMinNodes", o.CountryMinNodes)
	negd("ServiceFailureFor", o.ServiceFailureFor)
	negd("DegradationSustain", o.DegradationSustain)
	negd("BaselineWindow", o.BaselineWindow)
	neg("BaselineMinSamples", o.BaselineMinSamples)
	ratio("SuccessRatioDrop", o.SuccessRatioDrop)
	if o.LatencyFactor != 0 && (o.LatencyFactor <= 1 || o.LatencyFactor != o.LatencyFactor) {
		errs = append(errs, fmt.Errorf("LatencyFactor: %v must be above 1", o.LatencyFactor))
	}
	negd("LatencyMinIncrease", o.LatencyMinIncrease)
	ratio("VantageControlFailureRatio", o.VantageControlFailureRatio)
	ratio("VantageNetworkFailureRatio", o.VantageNetworkFailureRatio)
	ratio("VantageFallbackRatio", o.VantageFallbackRatio)
	neg("VantageFallbackMinTargets", o.VantageFallbackMinTargets)
	negd("VantageConfirmWithin", o.VantageConfirmWithin)
	if o.AlertArchitecture != "" && o.AlertArchitecture != ArchCentralized && o.AlertArchitecture != ArchDecentralized {
		errs = append(errs, fmt.Errorf("AlertArchitecture: %q is not centralized or decentralized", o.AlertArchitecture))
	}
	negd("PromotionLookback", o.PromotionLookback)
	errs = append(errs, o.Cluster.validate())
	return errors.Join(errs...)
}

// withDefaults fills zero (and, defensively, invalid) fields with defaults,
// so a detector never runs with a threshold that makes no sense.
func (o Options) withDefaults() Options {
	pos := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	posd := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	ratio := func(v *float64, def float64) {
		if !(*v > 0 && *v <= 1) {
			*v = def
		}
	}
	pos(&o.FailureThreshold, DefaultFailureThreshold)
	pos(&o.RecoveryThreshold, DefaultRecoveryThreshold)
	if o.FlapTransitions < 2 {
		o.FlapTransitions = DefaultFlapTransitions
	}
	posd(&o.FlapWindow, DefaultFlapWindow)
	ratio(&o.GatewayFailureRatio, DefaultGatewayFailureRatio)
	pos(&o.MinFailingGateways, DefaultMinFailingGateways)
	ratio(&o.MixnodeFailureRatio, DefaultMixnodeFailureRatio)
	pos(&o.MinFailingMixnodes, DefaultMinFailingMixnodes)
	ratio(&o.CountryFailureRatio, DefaultCountryFailureRatio)
	pos(&o.CountryMinNodes, DefaultCountryMinNodes)
	if o.ServiceFailureFor < 0 {
		o.ServiceFailureFor = 0
	}
	posd(&o.DegradationSustain, DefaultDegradationSustain)
	posd(&o.BaselineWindow, DefaultBaselineWindow)
	pos(&o.BaselineMinSamples, DefaultBaselineMinSamples)
	ratio(&o.SuccessRatioDrop, DefaultSuccessRatioDrop)
	if !(o.LatencyFactor > 1) {
		o.LatencyFactor = DefaultLatencyFactor
	}
	posd(&o.LatencyMinIncrease, DefaultLatencyMinIncrease)
	ratio(&o.VantageControlFailureRatio, DefaultVantageControlFailureRatio)
	ratio(&o.VantageNetworkFailureRatio, DefaultVantageNetworkFailureRatio)
	ratio(&o.VantageFallbackRatio, DefaultVantageFallbackRatio)
	pos(&o.VantageFallbackMinTargets, DefaultVantageFallbackMinTargets)
	posd(&o.VantageConfirmWithin, DefaultVantageConfirmWithin)
	if o.AlertArchitecture != ArchDecentralized {
		o.AlertArchitecture = ArchCentralized
	}
	o.Cluster = o.Cluster.withDefaults()
	posd(&o.PromotionLookback, DefaultPromotionLookback)
	pos(&o.AlertMaxFiring, DefaultAlertMaxFiring)
	pos(&o.AlertMaxGroups, DefaultAlertMaxGroups)
	return o
}

// Alert bounds' defaults (config alerts.max_firing, alerts.max_groups).
const (
	DefaultAlertMaxFiring = 5000
	DefaultAlertMaxGroups = 50
)
