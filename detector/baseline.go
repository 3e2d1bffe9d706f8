package detector

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// sample is one look at a component: the share of its targets whose latest
// observation was good, and the median latency of those.
type sample struct {
	At       int64   `json:"at"`
	Success  float64 `json:"success"`
	HasSucc  bool    `json:"has_succ,omitempty"`
	LatMS    float64 `json:"lat_ms"`
	HasLat   bool    `json:"has_lat,omitempty"`
	Degraded bool    `json:"degraded,omitempty"`
}

// compState is a component's baseline and degradation state. The baseline
// is the median of its non-degraded samples within BaselineWindow; while a
// degradation lasts it is frozen at its value when the degradation began,
// so a long degradation does not become its own baseline.
type compState struct {
	Fresh   bool     `json:"fresh"` // observations arrived since the last sample
	Samples []sample `json:"samples,omitempty"`

	DegRun      int   `json:"deg_run"`
	DegRunStart int64 `json:"deg_run_start"`
	DegPrevOK   int64 `json:"deg_prev_ok"`
	OKRun       int   `json:"ok_run"`
	OKRunStart  int64 `json:"ok_run_start"`
	LastOK      int64 `json:"last_ok"`

	Degraded      bool  `json:"degraded"`
	DegSince      int64 `json:"deg_since"`
	DegHealthy    int64 `json:"deg_healthy"`
	DegResolvedAt int64 `json:"deg_resolved_at"`

	Frozen   bool    `json:"frozen"`
	BaseSucc float64 `json:"base_succ"`
	BaseLat  float64 `json:"base_lat"`
	BaseHasS bool    `json:"base_has_s"`
	BaseHasL bool    `json:"base_has_l"`

	Why string `json:"why"` // what is degraded, for the reason
	Cur sample `json:"cur"`
}

type baseline struct {
	succ, lat       float64
	hasSucc, hasLat bool
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func (c *compState) baseline(o *Options, now int64) baseline {
	if c.Frozen {
		return baseline{c.BaseSucc, c.BaseLat, c.BaseHasS, c.BaseHasL}
	}
	from := now - o.BaselineWindow.Milliseconds()
	var succ, lat []float64
	for _, s := range c.Samples {
		if s.At < from || s.Degraded {
			continue
		}
		if s.HasSucc {
			succ = append(succ, s.Success)
		}
		if s.HasLat {
			lat = append(lat, s.LatMS)
		}
	}
	var b baseline
	if len(succ) >= o.BaselineMinSamples {
		b.succ, b.hasSucc = median(succ), true
	}
	if len(lat) >= o.BaselineMinSamples {
		b.lat, b.hasLat = median(lat), true
	}
	return b
}

// addSample records s and advances the degradation hysteresis (the same
// FailureThreshold / RecoveryThreshold as targets, counted in samples).
func (c *compState) addSample(o *Options, s sample) {
	b := c.baseline(o, s.At)
	var why []string
	if b.hasSucc && s.HasSucc && b.succ-s.Success >= o.SuccessRatioDrop-1e-9 {
		why = append(why, fmt.Sprintf("success ratio %.0f%% vs baseline %.0f%% (drop threshold %.0f points)",
			100*s.Success, 100*b.succ, 100*o.SuccessRatioDrop))
	}
	minInc := float64(o.LatencyMinIncrease) / float64(time.Millisecond)
	if b.hasLat && s.HasLat && s.LatMS > b.lat*o.LatencyFactor && s.LatMS-b.lat >= minInc {
		why = append(why, fmt.Sprintf("median latency %s vs baseline %s (×%.1f, threshold ×%.1f)",
			fmtMS(s.LatMS), fmtMS(b.lat), s.LatMS/math.Max(b.lat, 0.001), o.LatencyFactor))
	}
	s.Degraded = len(why) > 0
	c.Cur = s
	if s.Degraded {
		c.DegRun++
		c.OKRun = 0
		if c.DegRun == 1 {
			c.DegRunStart, c.DegPrevOK = s.At, c.LastOK
			if !c.Frozen {
				c.Frozen = true
				c.BaseSucc, c.BaseLat, c.BaseHasS, c.BaseHasL = b.succ, b.lat, b.hasSucc, b.hasLat
			}
		}
		c.Why = joinFrags(why)
		if !c.Degraded && c.DegRun >= o.FailureThreshold {
			c.Degraded, c.DegSince, c.DegHealthy = true, c.DegRunStart, c.DegPrevOK
		}
	} else {
		c.OKRun++
		c.DegRun = 0
		if c.OKRun == 1 {
			c.OKRunStart = s.At
		}
		c.LastOK = s.At
		if c.Degraded && c.OKRun >= o.RecoveryThreshold {
			c.Degraded = false
			c.DegResolvedAt = c.OKRunStart
		}
		if !c.Degraded {
			c.Frozen = false
		}
	}
	c.Samples = append(c.Samples, s)
	from := s.At - o.BaselineWindow.Milliseconds()
	i := 0
	for i < len(c.Samples) && c.Samples[i].At < from {
		i++
	}
	if extra := len(c.Samples) - i - maxSamples; extra > 0 {
		i += extra
	}
	if i > 0 {
		c.Samples = append(c.Samples[:0], c.Samples[i:]...)
	}
}

func fmtMS(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// sample takes one sample of every component that got observations since
// its previous sample, so the sampling rate follows the probe rate, not the
// Evaluate rate.
func (d *Detector) sample() {
	var members map[string][]*targetState
	if d.fullEval {
		members = map[string][]*targetState{}
		for _, ts := range d.targets {
			if c := d.comps[ts.group]; c != nil && c.Fresh {
				members[ts.group] = append(members[ts.group], ts)
			}
		}
	} else {
		d.syncIndex()
	}
	var lats []float64
	for name, c := range d.comps {
		if !c.Fresh {
			if len(members[name]) == 0 && !c.Degraded && !d.hasTargets(name) {
				delete(d.comps, name) // its targets are gone
			}
			continue
		}
		c.Fresh = false
		// A sample is dated by its newest observation, so a degradation's
		// first_seen is an observation time, like a failure's.
		s := sample{}
		good, total := 0, 0
		lats = lats[:0]
		if members == nil {
			// The index keeps the sample's inputs as targets change.
			if g := d.ix.groups[name]; g != nil && g.sTotal > 0 {
				total, good, s.At = g.sTotal, g.sGood, g.sampleMaxAt()
				s.LatMS, s.HasLat = g.sampleMedian()
			}
		}
		for _, ts := range d.sampleMembers(members, name) {
			if ts.Tainted || ts.LastAt == 0 || ts.staging() && !strings.HasPrefix(name, svcPrefix) {
				continue
			}
			total++
			s.At = max(s.At, ts.LastAt)
			if ts.LastGood {
				good++
				lats = append(lats, float64(ts.LastLatencyUS)/1000)
			}
		}
		if total == 0 || (len(c.Samples) > 0 && s.At <= c.Samples[len(c.Samples)-1].At) {
			continue
		}
		if !strings.HasPrefix(name, svcPrefix) {
			// A service's failures are judged by hysteresis; its baseline
			// is about latency only.
			s.Success, s.HasSucc = float64(good)/float64(total), true
		}
		if len(lats) > 0 && members != nil {
			s.LatMS, s.HasLat = median(lats), true
		}
		if !s.HasSucc && !s.HasLat {
			continue
		}
		c.addSample(&d.o, s)
	}
}

// sampleMembers iterates a fresh component's targets: from members
// (fullEval) or the index.
func (d *Detector) sampleMembers(members map[string][]*targetState, name string) func(func(int, *targetState) bool) {
	return func(yield func(int, *targetState) bool) {
		if members != nil {
			for i, ts := range members[name] {
				if !yield(i, ts) {
					return
				}
			}
			return
		}
		// Indexed: sample reads the group's aggregates instead.
	}
}

func (d *Detector) hasTargets(group string) bool {
	if !d.fullEval {
		return d.ix.groups[group] != nil
	}
	for _, ts := range d.targets {
		if ts.group == group {
			return true
		}
	}
	return false
}
