// Package webui is the web console of the on-call human: the incidents
// list, the incident page (the report draft exactly as report.md renders
// it, every section IV field editable, the evidence, a timeline chart and
// the audit trail) and the buttons that confirm, dismiss or resolve an
// incident. HTML, CSS and a little JavaScript are embedded in the binary;
// nothing is fetched from elsewhere (the ops host may have no internet).
//
// Decisions worth knowing:
//   - Login exchanges the operator token for a random session id held in
//     memory (a restart logs everybody out). The cookie is HttpOnly,
//     SameSite=Strict, and Secure when served over TLS or when the external
//     URL is https.
//   - Every state change needs a session and passes Go's
//     http.CrossOriginProtection; every change goes through
//     disclosure.Service with an Actor whose name ends in "(web console)",
//     so the audit trail says where it came from.
//   - Read-only views need a session unless Options.PublicRead is set
//     (config web.public_read).
//   - Forms work without JavaScript; the script only keeps the waiting
//     times live and adds a copy button.
package webui

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nymwatch/nymwatch/disclosure"
	"github.com/nymwatch/nymwatch/internal/authn"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultSessionTTL is how long a login lasts: a night on call.
const DefaultSessionTTL = 12 * time.Hour

// maxSessions bounds the sessions held in memory.
const maxSessions = 1000

// maxFormBytes bounds form bodies: a report field may hold 32 KiB, which
// percent-encoding can triple.
const maxFormBytes = 256 << 10

// Cookie names. The __Host- prefix (only possible with Secure) makes the
// browser refuse a cookie planted by a sibling subdomain.
const (
	cookieName       = "nymwatch_session"
	secureCookieName = "__Host-nymwatch_session"
)

// Options configures New.
type Options struct {
	Service *disclosure.Service
	// OperatorToken is the token a human logs in with (the content of
	// auth.operator_token_file; surrounding whitespace is ignored). Empty:
	// nobody can log in, so nothing can be changed from the console.
	OperatorToken []byte
	// PublicRead lets anyone who reaches the console read the incident
	// list and pages without logging in (config web.public_read).
	PublicRead bool
	// ExternalURL is the URL humans reach nymwatch at (web.external_url).
	// Its path is the prefix of every link (a reverse proxy strips it),
	// https makes the cookie Secure, and its origin is trusted by the
	// cross-origin check (a proxy may rewrite Host).
	ExternalURL string
	Logger      *slog.Logger
	// Now is the clock of sessions, waiting times and human actions; nil
	// means time.Now.
	Now func() time.Time
	// SessionTTL: 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// Registerer for the console's metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Maintenance, if set, adds the maintenance view (/maintenance).
	Maintenance *disclosure.Maintenance
	// Guard throttles failed logins per client (behind trusted proxies)
	// and globally; share one with the API. Nil: the console makes its own.
	Guard *authn.Guard
}

// UI serves the web console. Mount it with Register, or use it as an
// http.Handler (it has its own mux) in tests.
type UI struct {
	svc          *disclosure.Service
	access       atomic.Pointer[access]
	base         string // path prefix of links, "" or "/prefix"
	secureCookie bool
	log          *slog.Logger
	now          func() time.Time
	sessions     *sessions
	guard        *authn.Guard
	cop          *http.CrossOriginProtection
	pages        map[string]*template.Template
	static       fs.FS
	staticSum    map[string]string // file name → short content hash, for cache busting
	metrics      *metrics
	mux          *http.ServeMux
	maint        *disclosure.Maintenance
}

// New builds the console.
func New(opts Options) (*UI, error) {
	if opts.Service == nil {
		return nil, errors.New("webui: needs a disclosure Service")
	}
	u := &UI{
		svc: opts.Service,
		log: opts.Logger,
		now: opts.Now,
		cop: http.NewCrossOriginProtection(),
	}
	u.maint = opts.Maintenance
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	if opts.ExternalURL != "" {
		ext, err := url.Parse(opts.ExternalURL)
		if err != nil || (ext.Scheme != "http" && ext.Scheme != "https") || ext.Host == "" {
			return nil, fmt.Errorf("webui: external URL %q is not an http(s) URL", opts.ExternalURL)
		}
		u.base = strings.TrimRight(ext.EscapedPath(), "/")
		u.secureCookie = ext.Scheme == "https"
		if err := u.cop.AddTrustedOrigin(ext.Scheme + "://" + ext.Host); err != nil {
			return nil, fmt.Errorf("webui: trust external origin: %w", err)
		}
	}
	ttl := opts.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	u.sessions = newSessions(ttl, maxSessions, u.now)
	u.access.Store(newAccess(opts.OperatorToken, opts.PublicRead))
	u.guard = opts.Guard
	if u.guard == nil {
		g, err := authn.NewGuard(authn.GuardOptions{Throttle: authn.ThrottleOptions{Now: u.now}, Logger: u.log})
		if err != nil {
			return nil, fmt.Errorf("webui: %w", err)
		}
		u.guard = g
	}
	u.cop.SetDenyHandler(http.HandlerFunc(u.crossOriginRefused))

	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("webui: static files: %w", err)
	}
	u.static = static
	if u.staticSum, err = hashFiles(static); err != nil {
		return nil, err
	}
	if u.pages, err = u.parseTemplates(); err != nil {
		return nil, err
	}
	if u.metrics, err = newMetrics(opts.Registerer, u.sessions); err != nil {
		return nil, err
	}
	u.mux = http.NewServeMux()
	u.Register(u.mux)
	return u, nil
}

// access is what a config reload may change: who may log in, and whether
// reading needs a login.
type access struct {
	tokenSum   [sha256.Size]byte
	tokenSet   bool
	publicRead bool
}

func newAccess(token []byte, publicRead bool) *access {
	a := &access{publicRead: publicRead}
	if tok := bytes.TrimSpace(token); len(tok) > 0 { // token files usually end in a newline
		a.tokenSum, a.tokenSet = sha256.Sum256(tok), true
	}
	return a
}

// SetAccess applies a reloaded configuration (auth.operator_token_file,
// web.public_read) without a restart. A changed token ends every session:
// they were granted by the old one, which may have leaked. Build the UI
// once and call SetAccess on reload (its metrics are registered once, and
// sessions survive a reload that keeps the token).
func (u *UI) SetAccess(operatorToken []byte, publicRead bool) {
	next := newAccess(operatorToken, publicRead)
	prev := u.access.Swap(next)
	if prev.tokenSet != next.tokenSet || subtle.ConstantTimeCompare(prev.tokenSum[:], next.tokenSum[:]) != 1 {
		if n := u.sessions.clear(); n > 0 {
			u.log.Info("web console: operator token changed, sessions ended", "sessions", n)
		}
	}
}

// Register adds the console's routes to mux:
//
//	GET  /                              incidents list (?state=, ?class=)
//	GET  /incidents/{id}                incident page
//	GET  /login, POST /login            operator token → session cookie
//	POST /logout
//	POST /incidents/{id}/confirm        session + same origin
//	POST /incidents/{id}/dismiss        reason required
//	POST /incidents/{id}/resolve
//	POST /incidents/{id}/edit           field=<name> text=<markdown> [op=restore]
//	GET  /static/...                    embedded CSS, JS, icon
func (u *UI) Register(mux *http.ServeMux) {
	mux.Handle("GET /{$}", u.headers(u.readable(u.list)))
	mux.Handle("GET /incidents/{id}", u.headers(u.readable(u.incident)))
	mux.Handle("GET /login", u.headers(http.HandlerFunc(u.loginForm)))
	mux.Handle("POST /login", u.headers(u.cop.Handler(http.HandlerFunc(u.login))))
	mux.Handle("POST /logout", u.headers(u.cop.Handler(http.HandlerFunc(u.logout))))
	for _, action := range []string{"confirm", "dismiss", "resolve", "edit"} {
		mux.Handle("POST /incidents/{id}/"+action, u.headers(u.cop.Handler(u.writable(u.act(action)))))
	}
	mux.Handle("GET /static/", u.staticHandler())
	u.registerMaintenance(mux)
	u.registerPublication(mux)
	u.registerLifecycle(mux)
}

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

// contentSecurityPolicy allows only the console's own script and style;
// inline SVG needs nothing more.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// headers sets the security headers of every console page.
func (u *UI) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store") // pages hold incident data and per-user controls
		h.ServeHTTP(w, r)
	})
}

func (u *UI) staticHandler() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(u.static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if _, ok := u.staticSum[name]; !ok {
			// Also hides FileServer's directory listings.
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'") // the SVG icon, opened on its own, runs nothing
		if r.URL.Query().Get("v") == u.staticSum[name] {
			// Links carry the content hash, so a versioned URL never changes.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

func hashFiles(fsys fs.FS) (map[string]string, error) {
	sums := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		sums[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webui: hash static files: %w", err)
	}
	return sums, nil
}

// --- sessions and access ---

func (u *UI) cookieName() string {
	if u.secureCookie {
		return secureCookieName
	}
	return cookieName
}

// currentSession returns the request's live session, if any. A session
// granted by another token than the current one (rotated on reload) is
// not valid, even if it was created while the token changed.
func (u *UI) currentSession(r *http.Request) (session, string, bool) {
	a := u.access.Load()
	for _, name := range []string{secureCookieName, cookieName} {
		c, err := r.Cookie(name)
		if err != nil {
			continue
		}
		if s, ok := u.sessions.get(c.Value); ok && a.tokenSet && subtle.ConstantTimeCompare(s.grant[:], a.tokenSum[:]) == 1 {
			return s, c.Value, true
		}
	}
	return session{}, "", false
}

// readable lets a request through when it has a session or reads are
// public; otherwise it sends the browser to the login form.
func (u *UI) readable(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := u.currentSession(r); !ok && !u.access.Load().publicRead {
			u.toLogin(w, r, r.URL.RequestURI())
			return
		}
		h(w, r)
	}
}

// writable lets a state change through only with a session.
func (u *UI) writable(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, _, ok := u.currentSession(r)
		if !ok {
			u.log.Warn("web console: state change without a session", "path", r.URL.Path, "remote_addr", r.RemoteAddr)
			u.toLogin(w, r, "/incidents/"+r.PathValue("id"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		h(w, r, s)
	}
}

func (u *UI) toLogin(w http.ResponseWriter, r *http.Request, next string) {
	http.Redirect(w, r, u.base+"/login?next="+url.QueryEscape(next), http.StatusSeeOther)
}

// localPath accepts a "next" target only if it is a path on this console,
// so the login form cannot be used to redirect elsewhere.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// tokenMatches checks a typed token and returns the digest that grants the
// session.
func (u *UI) tokenMatches(token string) ([sha256.Size]byte, bool) {
	token = strings.TrimSpace(token)
	a := u.access.Load()
	if !a.tokenSet || token == "" {
		return [sha256.Size]byte{}, false
	}
	// Comparing fixed-size digests in constant time leaks neither the token
	// nor its length.
	sum := sha256.Sum256([]byte(token))
	return sum, subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

// maxActorRunes bounds the operator's self-declared name.
const maxActorRunes = 64

// sanitizeName keeps a self-declared name to the characters the API allows
// in X-Nymwatch-Actor, bounded.
func sanitizeName(s string) string {
	var b strings.Builder
	n := 0
	for _, c := range s {
		if n == maxActorRunes {
			break
		}
		if unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("._-@+ ", c) {
			b.WriteRune(c)
			n++
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// WebActorSuffix ends the audit actor name of every change made in the
// console: "operator (web console)" or "operator:alice (web console)".
// Parentheses cannot come through the API's X-Nymwatch-Actor header, so
// the suffix cannot be forged from the CLI.
const WebActorSuffix = " (web console)"

func actorName(name string) string {
	if name == "" {
		return "operator" + WebActorSuffix
	}
	return "operator:" + name + WebActorSuffix
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		u.renderLogin(w, r, http.StatusBadRequest, "The login form could not be read.", "")
		return
	}
	next := localPath(r.PostForm.Get("next"))
	name := sanitizeName(r.PostForm.Get("name"))
	client := u.guard.Client(r)
	switch {
	case !u.access.Load().tokenSet:
		u.renderLogin(w, r, http.StatusForbidden, "Login is disabled: no operator token is configured (auth.operator_token_file).", next)
		return
	case !u.guard.Allow(w, authn.SurfaceConsole, client):
		// Checked before the token, so a blocked client learns nothing;
		// the guard set Retry-After and logged the block's start once.
		u.metrics.logins.WithLabelValues("throttled").Inc()
		u.log.Debug("web console: login throttled", "remote_addr", r.RemoteAddr, "client", client)
		u.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed logins. Wait "+w.Header().Get("Retry-After")+" seconds and try again.", next)
		return
	}
	grant, ok := u.tokenMatches(r.PostForm.Get("token"))
	if !ok {
		u.guard.Fail(authn.SurfaceConsole, client)
		u.metrics.logins.WithLabelValues("failure").Inc()
		// Never log what was typed: it may be the token with a typo.
		u.log.Warn("web console: login with a wrong token", "remote_addr", r.RemoteAddr, "client", client)
		u.renderLogin(w, r, http.StatusUnauthorized, "That is not the operator token.", next)
		return
	}
	u.guard.Succeed(client)
	id, expires := u.sessions.create(name, grant)
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // Secure unless plain HTTP, which must still log in on loopback
		Name:     u.cookieName(),
		Value:    id,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(expires.Sub(u.now()).Seconds()),
		HttpOnly: true,
		Secure:   u.secureCookie || r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	u.metrics.logins.WithLabelValues("success").Inc()
	u.log.Info("web console: login", "actor", actorName(name), "remote_addr", r.RemoteAddr)
	http.Redirect(w, r, u.base+next, http.StatusSeeOther) //nolint:gosec // next went through localPath
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if s, id, ok := u.currentSession(r); ok {
		u.sessions.delete(id)
		u.log.Info("web console: logout", "actor", actorName(s.actor), "remote_addr", r.RemoteAddr)
	}
	for _, name := range []string{secureCookieName, cookieName} {
		if _, err := r.Cookie(name); err == nil {
			http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, //nolint:gosec // clearing it, as set at login
				Secure: name == secureCookieName || r.TLS != nil, SameSite: http.SameSiteStrictMode})
		}
	}
	http.Redirect(w, r, u.base+"/login?out=1", http.StatusSeeOther)
}

func (u *UI) crossOriginRefused(w http.ResponseWriter, r *http.Request) {
	u.log.Warn("web console: cross-origin request refused", "method", r.Method, "path", r.URL.Path,
		"remote_addr", r.RemoteAddr, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	u.renderError(w, r, http.StatusForbidden, "Cross-site request refused",
		"This change was sent from another web site, so nymwatch refused it. Open the incident in the nymwatch console and use its buttons.")
}

// --- rendering ---

// page is what every template gets.
type page struct {
	Title      string
	Base       string
	LoggedIn   bool
	Actor      string
	CanLogin   bool
	PublicRead bool
	Path       string
	Now        time.Time // the server's clock, so the page's live times agree with it
}

func (u *UI) pageFor(r *http.Request, title string) page {
	s, _, ok := u.currentSession(r)
	a := u.access.Load()
	p := page{Title: title, Base: u.base, LoggedIn: ok, CanLogin: a.tokenSet, PublicRead: a.publicRead, Path: r.URL.RequestURI(), Now: u.now()}
	if ok {
		p.Actor = actorName(s.actor)
	}
	return p
}

func (u *UI) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"static": func(name string) string {
			return u.base + "/static/" + name + "?v=" + u.staticSum[name]
		},
		"ftime":  formatTime,
		"minute": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"iso":    isoTime,
		"words":  func(s string) string { return strings.ReplaceAll(s, "_", " ") },
		"title":  titleCase,
		"addf":   func(a, b float64) float64 { return a + b },
		"editArgs": func(href string, f *fieldForm) editArgs {
			return editArgs{Href: href, F: f}
		},
		// the reporter channels of the credit form (lifecycle.go)
		"reporterChannels": disclosure.ReporterChannels,
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"list", "incident", "login", "error", "maintenance"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("webui: parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// editArgs is what the "editform" template gets.
type editArgs struct {
	Href string
	F    *fieldForm
}

// render executes a template into a buffer first, so a template error is a
// clean 500 and never half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		u.log.Error("web console: render", "template", name, "path", r.URL.Path, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintln(w, "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorView struct {
	page
	Status  int
	Heading string
	Message string
}

func (u *UI) renderError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	u.render(w, r, status, "error", errorView{page: u.pageFor(r, heading), Status: status, Heading: heading, Message: msg})
}

type loginView struct {
	page
	Next     string
	Error    string
	Notice   string
	Disabled bool
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	v := loginView{page: u.pageFor(r, "Log in"), Next: localPath(r.URL.Query().Get("next")), Disabled: !u.access.Load().tokenSet}
	if r.URL.Query().Get("out") != "" {
		v.Notice = "You are logged out."
	}
	u.render(w, r, http.StatusOK, "login", v)
}

func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, next string) {
	u.render(w, r, status, "login", loginView{page: u.pageFor(r, "Log in"), Next: localPath(next), Error: msg, Disabled: !u.access.Load().tokenSet})
}

// --- formatting helpers for templates ---

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return disclosure.FormatTime(t)
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// humanDuration is a short, readable duration: "35s", "12m 5s", "3h 20m",
// "2d 4h".
func humanDuration(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

func titleCase(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// incidentPath is the console path of an incident (ids are plain ASCII;
// but escape anyway).
func (u *UI) incidentPath(id string) string {
	return u.base + "/incidents/" + url.PathEscape(id)
}
