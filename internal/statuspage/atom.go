package statuspage

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// The Atom feed (RFC 4287): one entry per published incident, updated when
// an update is published; its content is the updates, newest first, as
// escaped HTML. Entry ids are tag: URIs (RFC 4151) dated by the publication,
// so they never change.

const atomNS = "http://www.w3.org/2005/Atom"

type atomFeed struct {
	XMLName xml.Name    `xml:"feed"`
	NS      string      `xml:"xmlns,attr"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Updated   string      `xml:"updated"`
	Published string      `xml:"published"`
	Link      atomLink    `xml:"link"`
	Content   atomContent `xml:"content"`
}

type atomContent struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

var entryContent = template.Must(template.New("entry").Parse(
	`<p>Impact: {{.Impact}}. Status: {{.Status}}.</p>{{range .Updates}}<p><strong>{{.Status}}</strong> ({{.At.UTC.Format "2006-01-02 15:04:05 UTC"}}): {{.Body}}</p>{{end}}`))

func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func renderAtom(v view, base string) ([]byte, error) {
	id := "tag:nymwatch,2026:status-page"
	if strings.HasPrefix(base, "http") {
		id = base // status.external_url: unique to this page
	}
	f := atomFeed{
		NS:      atomNS,
		ID:      id,
		Title:   v.Name,
		Updated: atomTime(v.UpdatedAt),
		Links: []atomLink{
			{Rel: "alternate", Type: "text/html", Href: base},
			{Rel: "self", Type: "application/atom+xml", Href: base + "feed.atom"},
		},
		Author:  atomAuthor{Name: v.Name},
		Entries: []atomEntry{},
	}
	for _, iv := range v.all {
		var body bytes.Buffer
		if err := entryContent.Execute(&body, iv); err != nil {
			return nil, fmt.Errorf("atom entry %s: %w", iv.ID, err)
		}
		f.Entries = append(f.Entries, atomEntry{
			ID:        fmt.Sprintf("tag:nymwatch,%s:incident/%s", iv.CreatedAt.UTC().Format(time.DateOnly), iv.ID),
			Title:     fmt.Sprintf("[%s] %s", iv.Status, iv.Name),
			Updated:   atomTime(iv.UpdatedAt),
			Published: atomTime(iv.CreatedAt),
			Link:      atomLink{Rel: "alternate", Type: "text/html", Href: base + "#" + iv.ID},
			Content:   atomContent{Type: "html", Body: body.String()},
		})
	}
	out, err := xml.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("atom feed: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
