package webui

import (
	"math"
	"slices"
	"time"

	"github.com/nymwatch/nymwatch/detector"
	"github.com/nymwatch/nymwatch/disclosure"
)

// timelineView is the geometry of the timeline chart, an inline SVG: a
// proportional time bar (numbered markers, the outage drawn thick) above a
// list of the five moments with their exact times, so the chart reads
// without colour and without the bar.
type timelineView struct {
	Width, Height int
	BarX1, BarX2  float64
	BarY          float64
	Outage        bool
	OutX1, OutX2  float64
	OutLabel      string
	OutLabelX     float64
	NowX          float64
	ShowNow       bool
	Events        []tlEvent
	Desc          string
}

type tlEvent struct {
	N         int
	Label     string
	At        time.Time
	Known     bool
	Note      string // shown instead of a time while unknown
	Relative  string // offset from first seen: "+1m 30s", "−30s"
	BarX      float64
	TagY      float64
	RowY      float64
	LineToY   float64 // the connector to the next row ends here (0: none)
	NextKnown bool
}

const (
	tlWidth      = 440
	tlMarginX    = 26
	tlTagGap     = 20 // minimum distance between two markers in one row
	tlRowH       = 48
	tlTagRowH    = 20
	tlListGap    = 44 // from the bar to the first row
	tlMaxTagRows = 5
)

func buildTimeline(inc *disclosure.Incident, now time.Time) timelineView {
	ack := "pending: waiting for a decision"
	if inc.State == disclosure.StateInternal {
		ack = "not applicable (internal record)"
	}
	restored, restoredLabel := "not yet restored", "Service restored"
	if inc.Class == detector.ClassSecurity {
		// Monitoring sees a security condition clear, not service restored.
		restored, restoredLabel = "not yet (the triggering condition is still observed)", "Contained / resolved"
	}
	evs := []tlEvent{
		{Label: "Last healthy observation", At: inc.LastHealthy, Note: "unknown (never observed healthy)"},
		{Label: "Users first experienced issues", At: inc.FirstSeen, Note: "unknown"},
		{Label: "Detected by nymwatch", At: inc.DetectedAt, Note: "unknown"},
		{Label: "Team aware (confirmed or dismissed)", At: inc.AcknowledgedAt, Note: ack},
		{Label: restoredLabel, At: inc.ResolvedAt, Note: restored},
	}
	v := timelineView{Width: tlWidth, BarX1: tlMarginX, BarX2: tlWidth - tlMarginX}

	var known []time.Time
	for i := range evs {
		evs[i].N = i + 1
		evs[i].Known = !evs[i].At.IsZero()
		if evs[i].Known {
			known = append(known, evs[i].At)
		}
	}
	t0, t1 := time.Time{}, time.Time{}
	if len(known) > 0 {
		t0, t1 = slices.MinFunc(known, time.Time.Compare), slices.MaxFunc(known, time.Time.Compare)
	}
	open := inc.ResolvedAt.IsZero() && !inc.FirstSeen.IsZero()
	if open && now.After(t1) {
		t1 = now
		v.ShowNow = true
	}
	x := func(t time.Time) float64 {
		if !t1.After(t0) {
			return (v.BarX1 + v.BarX2) / 2
		}
		// One decimal is finer than any screen and keeps the markup short.
		return math.Round((v.BarX1+(v.BarX2-v.BarX1)*float64(t.Sub(t0))/float64(t1.Sub(t0)))*10) / 10
	}

	// Numbered markers above the bar; a marker too close to another moves
	// up a row, so clustered moments (last healthy, first seen, detected
	// are often seconds apart) stay legible.
	order := make([]int, 0, len(evs))
	for i := range evs {
		if evs[i].Known {
			evs[i].BarX = x(evs[i].At)
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return evs[a].At.Compare(evs[b].At) })
	var rowLast []float64
	rowOf := map[int]int{}
	for _, i := range order {
		row := -1
		for r, last := range rowLast {
			if evs[i].BarX-last >= tlTagGap {
				row = r
				break
			}
		}
		if row < 0 {
			if len(rowLast) < tlMaxTagRows {
				rowLast = append(rowLast, 0)
				row = len(rowLast) - 1
			} else {
				row = len(rowLast) - 1
			}
		}
		rowLast[row] = evs[i].BarX
		rowOf[i] = row
	}
	rows := max(len(rowLast), 1)
	v.BarY = float64(rows*tlTagRowH + 16)
	for i, row := range rowOf {
		evs[i].TagY = v.BarY - 16 - float64(row*tlTagRowH)
	}
	if v.ShowNow {
		v.NowX = x(now)
	}
	if !inc.FirstSeen.IsZero() {
		end := inc.ResolvedAt
		label := "outage"
		if end.IsZero() {
			end, label = now, "ongoing"
		}
		if !end.Before(inc.FirstSeen) {
			v.Outage = true
			v.OutX1, v.OutX2 = x(inc.FirstSeen), x(end)
			v.OutLabel = label + " " + humanDuration(end.Sub(inc.FirstSeen))
			v.OutLabelX = min(max((v.OutX1+v.OutX2)/2, v.BarX1+50), v.BarX2-50)
		}
	}

	top := v.BarY + tlListGap
	for i := range evs {
		evs[i].RowY = top + float64(i*tlRowH)
		if i+1 < len(evs) {
			evs[i].LineToY = top + float64((i+1)*tlRowH) - 12
			evs[i].NextKnown = evs[i+1].Known
		}
		if evs[i].Known && !inc.FirstSeen.IsZero() && i != 1 {
			d := evs[i].At.Sub(inc.FirstSeen)
			if d < 0 {
				evs[i].Relative = "−" + humanDuration(-d)
			} else {
				evs[i].Relative = "+" + humanDuration(d)
			}
		}
	}
	v.Events = evs
	v.Height = int(top) + (len(evs)-1)*tlRowH + 34

	v.Desc = "Timeline of incident " + inc.ID + ": "
	for i, e := range evs {
		if i > 0 {
			v.Desc += "; "
		}
		if e.Known {
			v.Desc += e.Label + " " + disclosure.FormatTime(e.At)
		} else {
			v.Desc += e.Label + " " + e.Note
		}
	}
	v.Desc += "."
	return v
}
