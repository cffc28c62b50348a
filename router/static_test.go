package router

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/actions/builtin"
	"github.com/eventrouter/eventrouter/rules"
	"go.uber.org/zap"
)

// staticSite writes a site into a temporary directory: public/ is served,
// secret.txt beside it must never be.
func staticSite(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"secret.txt":             "secret",
		"public/index.html":      "<!doctype html><title>home</title>",
		"public/app.js":          "console.log(1)",
		"public/style.css":       "body{}",
		"public/data.json":       `{"a":1}`,
		"public/routed.txt":      "from the file",
		"public/post":            "from the file",
		"public/.env":            "TOKEN=x",
		"public/docs/index.html": "<!doctype html><title>docs</title>",
		"public/sub/a.txt":       "a",
		"public/sub/<b>.txt":     "b",
		"public/sub/.hidden":     "h",
		"public/sub/inner/x.txt": "x",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"public/link-out": "../secret.txt", // a file outside
		"public/dir-out":  "..",            // a directory outside
		"public/link-in":  "app.js",        // inside: served
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newStaticRouter loads config from a file in dir, so that relative
// static dirs resolve against dir, and builds a router that is not served:
// tests call its ServeHTTP.
func newStaticRouter(t *testing.T, dir, config string) *Router {
	t.Helper()
	r, err := New(loadStaticConfig(t, dir, config), Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return r
}

func loadStaticConfig(t *testing.T, dir, config string) *rules.Ruleset {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(path, builtin.Registry(), rules.LoadOptions{Environ: func() []string { return nil }})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return rs
}

const staticConfig = `server:
  cors:
    origins: ["https://app.example"]
  static:
    - path: /
      dir: public
    - path: /listed/
      dir: ./public/sub
      list: true
      cache_control: "public, max-age=60"
rules:
  - name: routed
    on: GET /routed.txt
    do:
      - 'respond(200, "from the rule", {"Content-Type": "text/plain"})'
  - name: post
    on: POST /post
    do:
      - 'respond(200, "posted", {"Content-Type": "text/plain"})'
  - name: gone
    on: DELETE /gone
    do:
      - respond(204, nil)
`

func serveStatic(r *Router, method, target string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

// TestStatic: what a mount serves and refuses, and how it ranks against
// rule routes.
func TestStatic(t *testing.T) {
	r := newStaticRouter(t, staticSite(t), staticConfig)
	first := serveStatic(r, "GET", "/app.js", nil)
	etag, lastMod := first.Header().Get("ETag"), first.Header().Get("Last-Modified")
	if etag == "" || lastMod == "" {
		t.Fatalf("GET /app.js: ETag %q, Last-Modified %q; want both", etag, lastMod)
	}
	cases := []struct {
		name         string
		method, path string
		header       map[string]string
		status       int
		body         string            // exact; "-" skips the check
		contains     []string          // in the body
		absent       []string          // not in the body
		wantHeader   map[string]string // substrings of response headers
		missingHeads []string
	}{
		{name: "js", method: "GET", path: "/app.js", status: 200, body: "console.log(1)",
			wantHeader: map[string]string{"Content-Type": "javascript", "X-Content-Type-Options": "nosniff", "ETag": etag}, missingHeads: []string{"Cache-Control"}},
		{name: "css", method: "GET", path: "/style.css", status: 200, body: "body{}", wantHeader: map[string]string{"Content-Type": "text/css"}},
		{name: "json", method: "GET", path: "/data.json", status: 200, body: `{"a":1}`, wantHeader: map[string]string{"Content-Type": "application/json"}},
		{name: "index of the root", method: "GET", path: "/", status: 200, body: "<!doctype html><title>home</title>", wantHeader: map[string]string{"Content-Type": "text/html"}},
		{name: "index of a directory", method: "GET", path: "/docs/", status: 200, body: "<!doctype html><title>docs</title>"},
		{name: "directory without its slash", method: "GET", path: "/docs?x=1", status: 301, body: "-", wantHeader: map[string]string{"Location": "docs/?x=1"}},
		{name: "HEAD", method: "HEAD", path: "/app.js", status: 200, body: "", wantHeader: map[string]string{"Content-Length": "14", "ETag": etag}},
		{name: "If-None-Match", method: "GET", path: "/app.js", header: map[string]string{"If-None-Match": etag}, status: 304, body: ""},
		{name: "If-None-Match of another version", method: "GET", path: "/app.js", header: map[string]string{"If-None-Match": `"0-0"`}, status: 200, body: "console.log(1)"},
		{name: "If-Modified-Since", method: "GET", path: "/app.js", header: map[string]string{"If-Modified-Since": lastMod}, status: 304, body: ""},
		{name: "Range", method: "GET", path: "/app.js", header: map[string]string{"Range": "bytes=0-6"}, status: 206, body: "console"},
		{name: "missing file", method: "GET", path: "/missing.txt", status: 404, body: "404 page not found\n"},
		{name: "dotfile", method: "GET", path: "/.env", status: 404, body: "-", absent: []string{"TOKEN"}},
		{name: "dot dot", method: "GET", path: "/../secret.txt", status: 404, body: "-", absent: []string{"secret"}},
		{name: "encoded dot dot", method: "GET", path: "/%2e%2e/secret.txt", status: 404, body: "-", absent: []string{"secret"}},
		{name: "encoded slash and dot dot", method: "GET", path: "/sub/..%2f..%2fsecret.txt", status: 404, body: "-", absent: []string{"secret"}},
		{name: "empty segment", method: "GET", path: "//app.js", status: 404, body: "-"},
		{name: "symlink to a file outside", method: "GET", path: "/link-out", status: 404, body: "-", absent: []string{"secret"}},
		{name: "symlink to a directory outside", method: "GET", path: "/dir-out/secret.txt", status: 404, body: "-", absent: []string{"secret"}},
		{name: "symlink inside", method: "GET", path: "/link-in", status: 200, body: "console.log(1)"},
		{name: "directory without index", method: "GET", path: "/sub/", status: 404, body: "-"},
		{name: "listing", method: "GET", path: "/listed/", status: 200, body: "-",
			contains:   []string{`<a href="a.txt">a.txt</a>`, `<a href="%3Cb%3E.txt">&lt;b&gt;.txt</a>`, `<a href="inner/">inner/</a>`},
			absent:     []string{".hidden"},
			wantHeader: map[string]string{"Content-Type": "text/html", "Cache-Control": "public, max-age=60"}},
		{name: "longest mount first", method: "GET", path: "/listed/a.txt", status: 200, body: "a", wantHeader: map[string]string{"Cache-Control": "public, max-age=60"}},
		{name: "mount without its slash", method: "GET", path: "/listed", status: 301, body: "-", wantHeader: map[string]string{"Location": "listed/"}},
		{name: "rule route wins", method: "GET", path: "/routed.txt", status: 200, body: "from the rule"},
		{name: "rule route for another method wins", method: "POST", path: "/post", status: 200, body: "posted"},
		{name: "file under a route of another method", method: "GET", path: "/post", status: 200, body: "from the file"},
		{name: "no file under a route of another method", method: "GET", path: "/gone", status: 405, body: "-", wantHeader: map[string]string{"Allow": "DELETE"}},
		{name: "method not allowed", method: "PUT", path: "/app.js", status: 405, body: "-", wantHeader: map[string]string{"Allow": "GET, HEAD"}},
		{name: "allowed origin", method: "GET", path: "/app.js", header: map[string]string{"Origin": "https://app.example"}, status: 200, body: "console.log(1)",
			wantHeader: map[string]string{"Access-Control-Allow-Origin": "https://app.example"}},
		{name: "foreign origin", method: "GET", path: "/app.js", header: map[string]string{"Origin": "https://evil.example"}, status: 403, body: "-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := serveStatic(r, tc.method, tc.path, tc.header)
			body := rec.Body.String()
			if rec.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %q", tc.method, tc.path, rec.Code, tc.status, body)
			}
			if tc.body != "-" && body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			for _, s := range tc.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(body, s) {
					t.Errorf("body holds %q:\n%s", s, body)
				}
			}
			for k, v := range tc.wantHeader {
				if got := rec.Header().Get(k); !strings.Contains(got, v) {
					t.Errorf("%s: %q, want %q in it", k, got, v)
				}
			}
			for _, k := range tc.missingHeads {
				if got := rec.Header().Get(k); got != "" {
					t.Errorf("%s: %q, want none", k, got)
				}
			}
		})
	}
	for _, c := range []struct {
		route, status string
		min           float64
	}{{"static:/", "200", 1}, {"static:/", "304", 2}, {"static:/listed", "200", 2}, {"GET /routed.txt", "200", 1}, {labelUnmatched, "404", 1}} {
		if got := metricValue(r.metrics.httpRequests.WithLabelValues(c.route, c.status)); got < c.min {
			t.Errorf("http_requests_total{route=%q,status=%q} = %v, want at least %v", c.route, c.status, got, c.min)
		}
	}
}

// TestStaticReload: a reload adds, changes and removes mounts.
func TestStaticReload(t *testing.T) {
	dir := staticSite(t)
	noStatic := `rules:
  - name: hello
    on: hello
    do:
      - emit("hello", "world")
`
	r := newStaticRouter(t, dir, noStatic)
	steps := []struct {
		name   string
		config string
		status map[string]int // path: status
	}{
		{"none at start", noStatic, map[string]int{"/app.js": 404, "/a.txt": 404}},
		{"added", "server:\n  static:\n    - path: /\n      dir: public\n" + noStatic, map[string]int{"/app.js": 200, "/a.txt": 404}},
		{"changed", "server:\n  static:\n    - path: /\n      dir: public/sub\n" + noStatic, map[string]int{"/app.js": 404, "/a.txt": 200}},
		{"removed", noStatic, map[string]int{"/app.js": 404, "/a.txt": 404}},
	}
	for _, s := range steps {
		if err := r.Reload(loadStaticConfig(t, dir, s.config), ""); err != nil {
			t.Fatalf("%s: reload: %v", s.name, err)
		}
		for p, want := range s.status {
			if got := serveStatic(r, "GET", p, nil).Code; got != want {
				t.Errorf("%s: GET %s: %d, want %d", s.name, p, got, want)
			}
		}
	}
}

// TestStaticName: the names a request path may reach in a mount.
func TestStaticName(t *testing.T) {
	for _, tc := range []struct {
		rel, name string
		ok        bool
	}{
		{"", ".", true},
		{"a/b.js", "a/b.js", true},
		{"a/", "a", true},
		{"..", "", false},
		{"a/../b", "", false},
		{".git/config", "", false},
		{"a//b", "", false},
		{"a/.", "", false},
		{"a\x00b", "", false},
	} {
		if name, ok := staticName(tc.rel); name != tc.name || ok != tc.ok {
			t.Errorf("staticName(%q) = %q, %v; want %q, %v", tc.rel, name, ok, tc.name, tc.ok)
		}
	}
}
