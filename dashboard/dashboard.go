// Package dashboard is a web dashboard for arq queues, as an http.Handler a
// Go service can mount: an overview with counts, charts and per-function
// statistics, the queued jobs, the kept results, a job's detail, and
// actions (abort, re-enqueue a failed job, delete a result) unless
// read-only. It serves metrics at /metrics when given a handler for them
// (arqprom.Handler serves the queue metrics); it does not import
// Prometheus itself, so a service that mounts it without metrics does not
// link client_golang.
//
// Everything read from Redis is escaped by html/template; records are
// decoded with arqcompat (which never executes anything) and a record that
// cannot be decoded is shown as unreadable. Every action is a POST carrying
// a CSRF token; pages send a Content-Security-Policy that forbids scripts.
// Authentication is HTTP basic auth, compared in constant time.
package dashboard

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/inspect"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configures the dashboard.
type Options struct {
	// Inspector reads the queues (required).
	Inspector *inspect.Inspector
	// Queues shown; default: the Inspector's client's queue.
	Queues []string
	// ReadOnly hides and refuses the actions.
	ReadOnly bool
	// User and Password turn on HTTP basic auth (both compared in
	// constant time); empty User means no auth.
	User, Password string
	// Metrics, when set, is served at /metrics (behind the same auth) and
	// linked from every page: arqprom.Handler(inspector, queues...) serves
	// the queue metrics. nil serves no /metrics.
	Metrics http.Handler
	// PageWait bounds how long a page waits for a refresh of the results
	// index before it shows the previous one (default 200 ms).
	PageWait time.Duration
	// Prefix is the path the handler is mounted under, behind
	// http.StripPrefix (e.g. "/arq"); links and redirects carry it.
	Prefix string
	// Refresh is how often the overview, jobs and results pages reload
	// themselves, with <meta http-equiv="refresh"> (no script); default
	// 10 s, negative for never. A page's ?refresh=SECONDS overrides it
	// (0: off), and the header links to turn it off and on.
	Refresh time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// History, when set, adds the History page and the bulk retry of
	// failed jobs (see history.go).
	History history.Store
}

// Handler serves the dashboard.
type Handler struct {
	o      Options
	in     *inspect.Inspector
	mux    *http.ServeMux
	secret []byte
	pages  map[string]*template.Template
	log    *slog.Logger
}

// New builds the dashboard's handler.
func New(o Options) (*Handler, error) {
	if o.Inspector == nil {
		return nil, errors.New("dashboard: Options.Inspector is required")
	}
	if len(o.Queues) == 0 {
		o.Queues = []string{o.Inspector.Client().QueueName()}
	}
	if o.PageWait <= 0 {
		o.PageWait = 200 * time.Millisecond
	}
	o.Prefix = strings.TrimRight(o.Prefix, "/")
	if o.Refresh == 0 {
		o.Refresh = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Handler{o: o, in: o.Inspector, mux: http.NewServeMux(), secret: make([]byte, 32), pages: map[string]*template.Template{}, log: o.Logger}
	if _, err := rand.Read(h.secret); err != nil {
		return nil, err
	}
	for _, p := range []string{"overview", "jobs", "results", "job", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", p, err)
		}
		h.pages[p] = t
	}
	if o.History != nil {
		if err := h.historyRoutes(); err != nil {
			return nil, err
		}
	}
	static, _ := fs.Sub(assets, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /{$}", h.overview)
	h.mux.HandleFunc("GET /jobs", h.jobs)
	h.mux.HandleFunc("GET /results", h.results)
	h.mux.HandleFunc("GET /job/{id}", h.job)
	h.mux.HandleFunc("POST /job/{id}/abort", h.action(h.abort))
	h.mux.HandleFunc("POST /job/{id}/reenqueue", h.action(h.reenqueue))
	h.mux.HandleFunc("POST /job/{id}/delete-result", h.action(h.deleteResult))
	if o.Metrics != nil {
		h.mux.Handle("GET /metrics", o.Metrics)
	}
	return h, nil
}

// ServeHTTP implements http.Handler: auth, security headers, then routing.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.o.User != "" && !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="goarq dashboard", charset="UTF-8"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) authorized(r *http.Request) bool { return checkBasic(r, h.o.User, h.o.Password) }

func checkBasic(r *http.Request, user, pass string) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	// hash both sides so the comparison time does not depend on lengths
	hu, hp := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
	wu, wp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	return subtle.ConstantTimeCompare(hu[:], wu[:])&subtle.ConstantTimeCompare(hp[:], wp[:]) == 1
}

// BasicAuth wraps next with HTTP basic auth for user and pass, compared in
// constant time (for a Go service mounting only the metrics, say).
func BasicAuth(next http.Handler, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !checkBasic(r, user, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="goarq", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// csrfToken is an HMAC of the user under a per-process secret: a page of
// this dashboard carries it, another site cannot read it.
func (h *Handler) csrfToken(r *http.Request) string {
	u, _, _ := r.BasicAuth()
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte("csrf\x00" + u))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) checkCSRF(r *http.Request) error {
	if s := r.Header.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
		return errors.New("cross-site request")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		ou, err := url.Parse(o)
		if err != nil || ou.Host != r.Host {
			return errors.New("request from another origin")
		}
	}
	got := r.PostFormValue("csrf")
	want := h.csrfToken(r)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errors.New("missing or wrong CSRF token")
	}
	return nil
}

// mayAct is every action's gate: it refuses (and answers 403) on a
// read-only dashboard or a POST without a valid CSRF token, and bounds the
// form's size.
func (h *Handler) mayAct(w http.ResponseWriter, r *http.Request) bool {
	if h.o.ReadOnly {
		h.fail(w, r, http.StatusForbidden, "the dashboard is read-only")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := h.checkCSRF(r); err != nil {
		h.fail(w, r, http.StatusForbidden, "refused: "+err.Error())
		return false
	}
	return true
}

// action wraps a POST handler: read-only and CSRF checks, then a redirect
// (303) to the page the handler names.
func (h *Handler) action(fn func(r *http.Request, id string) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.mayAct(w, r) {
			return
		}
		to, err := fn(r, r.PathValue("id"))
		if err != nil {
			h.fail(w, r, http.StatusInternalServerError, err.Error())
			return
		}
		http.Redirect(w, r, h.o.Prefix+to, http.StatusSeeOther)
	}
}

// page is what every template gets.
type page struct {
	Title    string
	Base     string
	Metrics  bool
	History  bool
	Nav      string
	CSRF     string
	ReadOnly bool
	Queues   []string
	Data     any
	Error    string
	Status   int
	// Refresh is the page's <meta http-equiv="refresh"> period in seconds
	// (0: none); RefreshToggle the same page with it turned off or on.
	Refresh       int
	Refreshes     bool
	RefreshToggle string
}

// refreshingPages reload themselves; a job's page, with its actions, and
// the error page do not.
var refreshingPages = map[string]bool{"overview": true, "jobs": true, "results": true}

// setRefresh fills the page's refresh period from ?refresh=SECONDS, else
// Options.Refresh, and the link that toggles it.
func (h *Handler) setRefresh(r *http.Request, name string, p *page) {
	if !refreshingPages[name] || p.Status != 0 {
		return
	}
	p.Refreshes = true
	secs := int(h.o.Refresh.Round(time.Second) / time.Second)
	if h.o.Refresh > 0 {
		secs = max(secs, 1)
	}
	if v := r.URL.Query().Get("refresh"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			secs = min(n, 24*3600)
		}
	}
	p.Refresh = max(secs, 0)
	q := r.URL.Query()
	if p.Refresh > 0 {
		q.Set("refresh", "0")
	} else if h.o.Refresh > 0 {
		q.Del("refresh")
	} else {
		q.Set("refresh", "10")
	}
	p.RefreshToggle = h.o.Prefix + r.URL.Path
	if e := q.Encode(); e != "" {
		p.RefreshToggle += "?" + e
	}
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	p.CSRF, p.ReadOnly, p.Queues = h.csrfToken(r), h.o.ReadOnly, h.o.Queues
	p.Base, p.Metrics, p.History = h.o.Prefix, h.o.Metrics != nil, h.o.History != nil
	h.setRefresh(r, name, &p)
	var buf bytes.Buffer
	if err := h.pages[name].Execute(&buf, p); err != nil {
		h.log.ErrorContext(r.Context(), "dashboard: rendering failed", "page", name, "error", err)
		http.Error(w, "rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if p.Status != 0 {
		w.WriteHeader(p.Status)
	}
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, "error", page{Title: http.StatusText(status), Error: msg, Status: status})
}

func (h *Handler) redisFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	h.log.WarnContext(r.Context(), "dashboard: reading Redis failed", "error", err)
	h.fail(w, r, http.StatusBadGateway, "reading Redis failed: "+err.Error())
}

// queueParam is the ?queue= of a request when it is one of the shown
// queues, else the first.
func (h *Handler) queueParam(r *http.Request) string {
	q := r.FormValue("queue")
	for _, k := range h.o.Queues {
		if k == q {
			return q
		}
	}
	return h.o.Queues[0]
}

func jobURL(id, queue string) string {
	return "/job/" + url.PathEscape(id) + "?queue=" + url.QueryEscape(queue)
}

// messages are the fixed notices an action's redirect may name (?msg=),
// so that no text of the request is reflected into a page.
var messages = map[string]string{
	"abort":          "Abort requested. Only workers running with allow_abort_jobs act on it; the job ends cancelled if one does.",
	"reenqueued":     "Enqueued again under a new id: this is the new job.",
	"deleted":        "The result was deleted.",
	"deleted-absent": "There was no result to delete.",
}

func noticeOf(r *http.Request) string { return messages[r.FormValue("msg")] }
