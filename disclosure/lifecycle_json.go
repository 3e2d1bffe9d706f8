package disclosure

import (
	"context"
	"database/sql"
	"time"

	"github.com/nymwatch/nymwatch/disclosure/page"
)

// The wire format of the checklist, follow-ups and reporters (full view of
// an incident, docs/follow-ups.md).

type channelJSON struct {
	Name   string   `json:"name"`
	Done   bool     `json:"done"`
	DoneAt jsonTime `json:"done_at"`
	DoneBy string   `json:"done_by,omitempty"`
	Note   string   `json:"note,omitempty"`
}

type followUpJSON struct {
	Seq       int      `json:"seq"`
	Title     string   `json:"title"`
	Phase     string   `json:"phase"`
	DueAt     jsonTime `json:"due_at"`
	Overdue   bool     `json:"overdue"`
	Done      bool     `json:"done"`
	DoneAt    jsonTime `json:"done_at"`
	DoneBy    string   `json:"done_by,omitempty"`
	Note      string   `json:"note,omitempty"`
	CreatedAt jsonTime `json:"created_at"`
	CreatedBy string   `json:"created_by"`
}

type reporterJSON struct {
	Seq        int      `json:"seq"`
	Name       string   `json:"name"`
	Channel    string   `json:"channel"`
	ReportedAt jsonTime `json:"reported_at"`
	Link       string   `json:"link,omitempty"`
	AddedAt    jsonTime `json:"added_at"`
	AddedBy    string   `json:"added_by"`
}

// lifecycleJSON fills the full view's lifecycle fields.
func (inc *Incident) lifecycleJSON(j *incidentJSON) {
	chs := make([]channelJSON, 0, len(inc.Channels))
	for _, c := range inc.Channels {
		chs = append(chs, channelJSON{Name: c.Name, Done: !c.DoneAt.IsZero(), DoneAt: jsonTime(c.DoneAt), DoneBy: c.DoneBy, Note: c.Note})
	}
	fus := make([]followUpJSON, 0, len(inc.FollowUps))
	for _, f := range inc.FollowUps {
		fus = append(fus, followUpJSON{Seq: f.Seq, Title: f.Title, Phase: f.Phase, DueAt: jsonTime(f.DueAt),
			Overdue: f.Overdue, Done: !f.DoneAt.IsZero(), DoneAt: jsonTime(f.DoneAt), DoneBy: f.DoneBy,
			Note: f.Note, CreatedAt: jsonTime(f.CreatedAt), CreatedBy: f.CreatedBy})
	}
	rs := make([]reporterJSON, 0, len(inc.Reporters))
	for _, r := range inc.Reporters {
		rs = append(rs, reporterJSON{Seq: r.Seq, Name: r.Name, Channel: r.Channel, ReportedAt: jsonTime(r.ReportedAt),
			Link: r.Link, AddedAt: jsonTime(r.AddedAt), AddedBy: r.AddedBy})
	}
	j.Channels, j.FollowUps, j.Reporters = &chs, &fus, &rs
}

// FollowUpPage enqueues, inside tx, a page about an incident's follow-up
// (overdue, or its end once done): the same durable path, per-row backoff
// and supersede as incident pages. The page's IncidentID is
// "<incident>/followup/<seq>", so the incident's own end page does not
// suppress it.
func (o *Outbox) FollowUpPage(ctx context.Context, sqlTx *sql.Tx, p page.Page, now time.Time) error {
	if id := p.Labels["incident_id"]; id != "" && !p.Resolved {
		if u := o.esc.IncidentURL(id); u != "" {
			p.Annot["incident_url"] = u
		}
	}
	return o.enqueue(ctx, writeConn(o.db, sqlTx), []page.Page{p}, now)
}
