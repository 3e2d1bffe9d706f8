// Package statuspage serves the public status page (issue 12.5): an HTML
// page, Statuspage-shaped JSON and an Atom feed built only from published
// incidents and their published updates (disclosure.PublishedIncident).
// It never sees drafts, evidence, node addresses, target ids, actors or the
// audit trail: its source hands it nothing else. No authentication, GETs
// (and HEADs) only, no cookies, no scripts, no external resources.
package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nymwatch/nymwatch/disclosure"
)

// Source is where published incidents come from (disclosure.Store).
type Source interface {
	Published(ctx context.Context, since time.Time) ([]disclosure.PublishedIncident, error)
}

// HistoryWindow is how far back resolved incidents are shown.
const HistoryWindow = 90 * 24 * time.Hour

// viewTTL is how long one read of the store serves every request: the page
// is public and unauthenticated, so a crowd costs one query per viewTTL.
const viewTTL = 5 * time.Second

// CacheMaxAge is the max-age of every answer: readers may see a change up
// to this late, and a crowd of them costs one query per interval per cache.
const CacheMaxAge = 30 * time.Second

//go:embed templates/page.html templates/page.css
var assets embed.FS

// Options configures New.
type Options struct {
	Source Source
	// Name is the page's title (status.name).
	Name string
	// ExternalURL is where the public reaches the page (status.external_url);
	// empty: links are relative.
	ExternalURL string
	Logger      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves the status page.
type Handler struct {
	src     Source
	name    string
	base    string
	log     *slog.Logger
	now     func() time.Time
	created time.Time
	page    *template.Template
	css     template.CSS
	csp     string
	mux     *http.ServeMux

	// One load at a time; concurrent requests wait for it and share it.
	cacheMu sync.Mutex
	cached  view
	builtAt time.Time
}

// New builds the handler.
func New(opts Options) (*Handler, error) {
	if opts.Source == nil {
		return nil, errors.New("statuspage: needs a source")
	}
	h := &Handler{src: opts.Source, name: opts.Name, log: opts.Logger, now: opts.Now, base: opts.ExternalURL}
	if h.name == "" {
		h.name = "Nym network status"
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.base == "" {
		h.base = "/"
	} else if !strings.HasSuffix(h.base, "/") {
		h.base += "/"
	}
	h.created = h.now().UTC().Truncate(time.Second)
	css, err := assets.ReadFile("templates/page.css")
	if err != nil {
		return nil, fmt.Errorf("statuspage: %w", err)
	}
	h.css = template.CSS(css) //nolint:gosec // our own embedded file, not input
	sum := sha256.Sum256(css)
	// No scripts, no external resources, no framing; the one inline style
	// is allowed by its hash.
	h.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	h.page, err = template.New("page.html").Funcs(template.FuncMap{
		"fmtTime":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"isoTime":       func(t time.Time) string { return disclosure.FormatTime(t) },
		"statusText":    statusText,
		"componentName": componentName,
	}).ParseFS(assets, "templates/page.html")
	if err != nil {
		return nil, fmt.Errorf("statuspage: %w", err)
	}
	h.mux = http.NewServeMux()
	// GET patterns answer HEAD too; other methods get 405.
	h.mux.HandleFunc("GET /{$}", h.html)
	h.mux.HandleFunc("GET /api/v2/summary.json", h.summary)
	h.mux.HandleFunc("GET /api/v2/status.json", h.status)
	h.mux.HandleFunc("GET /api/v2/components.json", h.componentsJSON)
	h.mux.HandleFunc("GET /api/v2/incidents.json", h.incidentsJSON)
	h.mux.HandleFunc("GET /api/v2/incidents/unresolved.json", h.unresolvedJSON)
	h.mux.HandleFunc("GET /feed.atom", h.atom)
	return h, nil
}

func statusText(s string) string {
	switch s {
	case "operational":
		return "Operational"
	case "degraded_performance":
		return "Degraded performance"
	case "partial_outage":
		return "Partial outage"
	case "major_outage":
		return "Major outage"
	}
	return s
}

func componentName(id string) string {
	for _, c := range components {
		if c.id == id {
			return c.name
		}
	}
	return id
}

// ServeHTTP sets the headers every answer carries, errors included.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

// load builds the view from the published incidents (reusing one built
// less than viewTTL ago), or answers 503.
func (h *Handler) load(w http.ResponseWriter, r *http.Request) (view, bool) {
	now := h.now()
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	if !h.builtAt.IsZero() && !now.Before(h.builtAt) && now.Sub(h.builtAt) < viewTTL {
		return h.cached, true
	}
	pubs, err := h.src.Published(r.Context(), now.Add(-HistoryWindow))
	if err != nil {
		h.log.Error("status page: read published incidents", "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "status temporarily unavailable", http.StatusServiceUnavailable)
		return view{}, false
	}
	h.cached, h.builtAt = buildView(h.name, h.base, pubs, h.created), now
	return h.cached, true
}

// send writes body with cache headers and a strong ETag, answering a
// matching If-None-Match with 304.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, contentType string, body []byte, updated time.Time) {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(CacheMaxAge.Seconds())))
	hd.Set("ETag", etag)
	hd.Set("Last-Modified", updated.UTC().Format(http.TimeFormat))
	// ServeContent answers If-None-Match (304), HEAD and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func (h *Handler) sendJSON(w http.ResponseWriter, r *http.Request, v any, updated time.Time) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		h.log.Error("status page: encode json", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.send(w, r, "application/json; charset=utf-8", append(b, '\n'), updated)
}

func (h *Handler) html(w http.ResponseWriter, r *http.Request) {
	v, ok := h.load(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	data := struct {
		view
		CSS         template.CSS
		HistoryDays int
	}{v, h.css, int(HistoryWindow / (24 * time.Hour))}
	if err := h.page.Execute(&buf, data); err != nil {
		h.log.Error("status page: render", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.send(w, r, "text/html; charset=utf-8", buf.Bytes(), v.UpdatedAt)
}

func (h *Handler) summary(w http.ResponseWriter, r *http.Request) {
	v, ok := h.load(w, r)
	if !ok {
		return
	}
	h.sendJSON(w, r, Summary{
		Page: v.page(), Components: v.components(h.created), Incidents: v.incidents(v.Open, h.created),
		ScheduledMaintenances: []struct{}{}, Status: v.status(),
	}, v.UpdatedAt)
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	if v, ok := h.load(w, r); ok {
		h.sendJSON(w, r, StatusDoc{Page: v.page(), Status: v.status()}, v.UpdatedAt)
	}
}

func (h *Handler) componentsJSON(w http.ResponseWriter, r *http.Request) {
	if v, ok := h.load(w, r); ok {
		h.sendJSON(w, r, struct {
			Page       Page        `json:"page"`
			Components []Component `json:"components"`
		}{v.page(), v.components(h.created)}, v.UpdatedAt)
	}
}

// maxIncidents is how many incidents incidents.json lists (Statuspage: 50).
const maxIncidents = 50

func (h *Handler) incidentsJSON(w http.ResponseWriter, r *http.Request) {
	if v, ok := h.load(w, r); ok {
		h.sendJSON(w, r, Incidents{Page: v.page(), Incidents: v.incidents(v.all[:min(len(v.all), maxIncidents)], h.created)}, v.UpdatedAt)
	}
}

func (h *Handler) unresolvedJSON(w http.ResponseWriter, r *http.Request) {
	if v, ok := h.load(w, r); ok {
		h.sendJSON(w, r, Incidents{Page: v.page(), Incidents: v.incidents(v.Open, h.created)}, v.UpdatedAt)
	}
}

func (h *Handler) atom(w http.ResponseWriter, r *http.Request) {
	v, ok := h.load(w, r)
	if !ok {
		return
	}
	b, err := renderAtom(v, h.base)
	if err != nil {
		h.log.Error("status page: render feed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.send(w, r, "application/atom+xml; charset=utf-8", b, v.UpdatedAt)
}

// Server is the status page's own listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Listen binds addr and serves h on it until Shutdown. Requests are GETs:
// headers are capped and every phase has a timeout.
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status page: listen %s: %w", addr, err)
	}
	s := &Server{
		ln: ln,
		srv: &http.Server{
			Handler: http.MaxBytesHandler(h, 1<<10),
			// Read-only GETs: small headers, no bodies, short phases.
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      15 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the listener, waiting for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errors.Join(err, serveErr)
	}
	return err
}
