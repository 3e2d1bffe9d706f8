package page

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func escalationTestTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

// escalationTest is the default schedule (as the outbox's defaults set it)
// with the given links.
func escalationTest(externalURL, apiBaseURL string) Escalation {
	return Escalation{ExternalURL: externalURL, APIBaseURL: apiBaseURL,
		Resend: DefaultResendInterval, Delays: DefaultEscalationDelays(), DayEnd: DefaultDayEndWarning}
}

func TestEscalationSeverityLadder(t *testing.T) {
	tests := []struct {
		class string
		level int
		want  string
	}{
		{"operational", 0, SeverityWarning},
		{"operational", 1, SeverityCritical},
		{"operational", 2, SeverityPage},
		{"operational", 7, SeverityPage},
		{"security", 0, SeverityCritical},
		{"security", 1, SeverityPage},
		{"security", 3, SeverityPage},
	}
	for _, tt := range tests {
		if got := escalationSeverity(tt.class, tt.level); got != tt.want {
			t.Errorf("escalationSeverity(%s, %d) = %s, want %s", tt.class, tt.level, got, tt.want)
		}
	}
	if got := escalationSeverities("security", 3); !slices.Equal(got, []string{"critical", "page"}) {
		t.Errorf("escalationSeverities(security, 3) = %v", got)
	}
}

// TestEscalationSchedule pins, with explicit clocks, which page keys (and
// severities) are due for a draft: resend cadence, escalation delays and the
// end-of-UTC-day rule.
func TestEscalationSchedule(t *testing.T) {
	ob := escalationTest("https://nymwatch.example/", "")
	const id = "INC-20260310-0001"
	noon := escalationTestTime(t, "2026-03-10T12:00:00Z")
	tests := []struct {
		name    string
		class   string
		created string
		now     string
		want    map[string]string // key suffix -> severity
		descHas []string          // in the description of every page
	}{
		{name: "just opened", created: "2026-03-10T12:00:00Z", now: "2026-03-10T12:00:00Z",
			want: map[string]string{"open": "warning"}},
		{name: "before first resend", created: "2026-03-10T12:00:00Z", now: "2026-03-10T12:00:59.999Z",
			want: map[string]string{"open": "warning"}},
		{name: "first resend", created: "2026-03-10T12:00:00Z", now: "2026-03-10T12:01:00Z",
			want: map[string]string{"open": "warning", "resend/1/warning": "warning"}},
		{name: "resend index from creation", created: "2026-03-10T12:00:00Z", now: "2026-03-10T12:07:30Z",
			want: map[string]string{"open": "warning", "resend/7/warning": "warning"}},
		{name: "just before first escalation", created: "2026-03-10T12:00:00Z", now: "2026-03-10T12:14:59Z",
			want: map[string]string{"open": "warning", "resend/14/warning": "warning"}},
		{name: "first escalation", created: "2026-03-10T12:00:00Z", now: "2026-03-10T12:15:00Z",
			want: map[string]string{"open": "warning", "escalate/1": "critical",
				"resend/15/warning": "warning", "resend/15/critical": "critical"},
			descHas: []string{"Escalated: no decision after 15m0s."}},
		{name: "second escalation", created: "2026-03-10T12:00:00Z", now: "2026-03-10T13:00:00Z",
			want: map[string]string{"open": "warning", "escalate/1": "page", "escalate/2": "page",
				"resend/60/warning": "warning", "resend/60/critical": "critical", "resend/60/page": "page"}},
		{name: "security starts critical", class: "security", created: "2026-03-10T12:00:00Z", now: "2026-03-10T12:15:00Z",
			want: map[string]string{"open/security": "critical", "escalate/1": "page",
				"resend/15/critical": "critical", "resend/15/page": "page"}},
		{name: "outside the day-end window", created: "2026-03-10T22:50:00Z", now: "2026-03-10T22:59:59Z",
			want: map[string]string{"open": "warning", "resend/9/warning": "warning"}},
		{name: "day-end window reached", created: "2026-03-10T22:50:00Z", now: "2026-03-10T23:00:00Z",
			want: map[string]string{"open": "warning", "dayend/2026-03-10": "critical",
				"resend/10/warning": "warning", "resend/10/critical": "critical"},
			descHas: []string{"Same-day deadline: the UTC day ends at 2026-03-11T00:00:00.000Z, in 1h0m0s."}},
		{name: "opened inside the window", created: "2026-03-10T23:30:00Z", now: "2026-03-10T23:30:00Z",
			want:    map[string]string{"open": "warning", "dayend/2026-03-10": "critical"},
			descHas: []string{"in 30m0s"}},
		{name: "day crossed: bump stays, same day key", created: "2026-03-10T22:50:00Z", now: "2026-03-11T00:10:00Z",
			want: map[string]string{"open": "warning", "escalate/1": "page", "escalate/2": "page", "dayend/2026-03-10": "page",
				"resend/80/warning": "warning", "resend/80/critical": "critical", "resend/80/page": "page"},
			descHas: []string{"Same-day deadline missed: the draft was still pending when the UTC day ended at 2026-03-11T00:00:00.000Z."}},
		{name: "next day's window", created: "2026-03-10T22:50:00Z", now: "2026-03-11T23:00:00Z",
			want: map[string]string{"open": "warning", "escalate/1": "page", "escalate/2": "page", "dayend/2026-03-11": "page",
				"resend/1450/warning": "warning", "resend/1450/critical": "critical", "resend/1450/page": "page"}},
		{name: "opened right at midnight", created: "2026-03-11T00:00:00Z", now: "2026-03-11T00:00:30Z",
			want: map[string]string{"open": "warning"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class := tt.class
			if class == "" {
				class = "operational"
			}
			created := escalationTestTime(t, tt.created)
			now, err := time.Parse(time.RFC3339Nano, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			s := Subject{IncidentID: id, Class: class, State: "draft", Component: "entry-gateways",
				Title: "Entry gateways unreachable", FirstSeen: noon.Add(-time.Hour), CreatedAt: created}
			pages := ob.FiringPages(s, now)
			got := map[string]string{}
			for _, p := range pages {
				suffix, ok := strings.CutPrefix(p.Key, id+"/")
				if !ok {
					t.Fatalf("key %q without incident prefix", p.Key)
				}
				if _, dup := got[suffix]; dup {
					t.Fatalf("key %q twice", p.Key)
				}
				got[suffix] = p.Labels["severity"]
				if !p.EndsAt.Equal(now.Add(4 * time.Minute)) {
					t.Errorf("%s: endsAt %s, want now+4m", p.Key, p.EndsAt)
				}
				if !p.StartsAt.Equal(noon.Add(-time.Hour)) {
					t.Errorf("%s: startsAt %s, want first_seen", p.Key, p.StartsAt)
				}
				if p.Resolved {
					t.Errorf("%s: resolved", p.Key)
				}
				for _, sub := range tt.descHas {
					if !strings.Contains(p.Annot["description"], sub) {
						t.Errorf("%s: description %q lacks %q", p.Key, p.Annot["description"], sub)
					}
				}
				if p.Annot["incident_url"] != "https://nymwatch.example/incidents/"+id {
					t.Errorf("%s: incident_url %q", p.Key, p.Annot["incident_url"])
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("due pages\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestEscalationLabelsIdentical: two instances (different option values that
// do not touch the schedule) produce the same labels, so an Alertmanager
// cluster sees one alert.
func TestEscalationLabelsIdentical(t *testing.T) {
	a := escalationTest("https://a.example", "")
	b := escalationTest("", "http://10.0.0.2:9478")
	created := escalationTestTime(t, "2026-03-10T12:00:00Z")
	s := Subject{IncidentID: "INC-1", Class: "operational", Component: "exit-gateways", CreatedAt: created}
	pa := a.FiringPages(s, created.Add(20*time.Minute))
	pb := b.FiringPages(s, created.Add(20*time.Minute))
	if len(pa) != len(pb) {
		t.Fatalf("%d vs %d pages", len(pa), len(pb))
	}
	for i := range pa {
		if pa[i].Key != pb[i].Key || !maps.Equal(pa[i].Labels, pb[i].Labels) {
			t.Errorf("page %d differs: %v %v / %v %v", i, pa[i].Key, pa[i].Labels, pb[i].Key, pb[i].Labels)
		}
	}
	want := map[string]string{"alertname": "NymwatchDisclosurePending", "incident_id": "INC-1",
		"class": "operational", "component": "exit-gateways", "severity": "warning"}
	if !maps.Equal(pa[len(pa)-2].Labels, want) { // the open page
		t.Errorf("labels %v, want %v", pa[len(pa)-2].Labels, want)
	}
	if got := pb[0].Annot["incident_url"]; got != "http://10.0.0.2:9478/api/v1/incidents/INC-1" {
		t.Errorf("api incident_url %q", got)
	}
}
