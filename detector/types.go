// Package detector turns probe results and Alertmanager alerts into anomalies
// with precise timestamps, classified per section II of the disclosure policy.
// It is pure logic over the times it is given.
package detector

import "time"

// Class is the disclosure class of section II.
type Class string

const (
	ClassSecurity    Class = "security"    // immediate public disclosure
	ClassOperational Class = "operational" // immediate public disclosure
	ClassInternal    Class = "internal"    // internal knowledge base only
)

// Disclosable reports whether the policy requires public disclosure.
func (c Class) Disclosable() bool { return c == ClassSecurity || c == ClassOperational }

// Valid reports whether c is one of the three classes.
func (c Class) Valid() bool {
	return c == ClassSecurity || c == ClassOperational || c == ClassInternal
}

// Architecture is the side of section VI an anomaly belongs to.
type Architecture string

const (
	ArchDecentralized Architecture = "decentralized" // the Nym network's independent nodes
	ArchCentralized   Architecture = "centralized"   // nym-api, NymVPN API, accounts, payments
)

// Evidence is one target's contribution to an anomaly.
type Evidence struct {
	TargetID string    `json:"target_id"`
	NodeID   uint32    `json:"node_id,omitempty"`
	Role     string    `json:"role,omitempty"`
	Country  string    `json:"country,omitempty"`
	Reason   string    `json:"reason"`           // probe Reason or alert name
	Detail   string    `json:"detail,omitempty"` // e.g. "GET /api/v1/health: 503"
	Since    time.Time `json:"since"`            // this target's first failing observation
	// Background: failing for longer than the promotion lookback when its
	// anomaly crossed the threshold; not counted in the anomaly's
	// first_seen.
	Background bool `json:"background,omitempty"`
}

// Promotion records a class change of an open anomaly.
type Promotion struct {
	At     time.Time `json:"at"`
	From   Class     `json:"from"`
	To     Class     `json:"to"`
	Reason string    `json:"reason"`
}

// Anomaly is one component's deviation, from first failing observation to
// recovery. The detector emits the whole anomaly every time it changes;
// consumers upsert it by ID, so repeated emission is harmless.
type Anomaly struct {
	// ID is stable for the life of the anomaly (component + first_seen).
	ID string `json:"id"`
	// Component names what failed: "entry_gateways", "exit_gateways",
	// "mixnodes_layer2", "country/DE", "service/nym-api", "node/1399",
	// "vantage_point", "alert/<alertname>", and with a cluster
	// "vantage/<peer>" (peer unreachable) and "path/<vantage point>"
	// (failures too few vantage points see), ...
	Component    string       `json:"component"`
	Class        Class        `json:"class"`
	Architecture Architecture `json:"architecture"`
	Title        string       `json:"title"`  // short, for headlines and pages
	Reason       string       `json:"reason"` // why this class, readable by a human
	Source       string       `json:"source"` // "probe", "alertmanager" or "cluster"
	Affected     []string     `json:"affected"`
	Evidence     []Evidence   `json:"evidence,omitempty"`
	Promotions   []Promotion  `json:"promotions,omitempty"`
	// Labels carries an alert's labels (source "alertmanager").
	Labels map[string]string `json:"labels,omitempty"`

	LastHealthy time.Time `json:"last_healthy"` // zero if never seen healthy
	FirstSeen   time.Time `json:"first_seen"`
	DetectedAt  time.Time `json:"detected_at"`
	ResolvedAt  time.Time `json:"resolved_at"` // zero while open
}

// Open reports whether the anomaly has not recovered yet.
func (a *Anomaly) Open() bool { return a.ResolvedAt.IsZero() }
