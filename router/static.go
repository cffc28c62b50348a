package router

import (
	"cmp"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/rules"
)

// Static files (server.static). A request reaches a mount only when it is
// not for the Socket.IO path and no rule route matches it, so a rule can
// always take a path back from the files. The longest mount path that
// covers the request wins.
//
// What is served, and why:
//   - Only GET and HEAD; any other method under a mount gets 405 with
//     Allow: GET, HEAD (CORS preflights are answered before, as for
//     routes).
//   - A file goes through http.ServeContent: its type from its extension
//     (sniffed when the extension says nothing), Range requests, and
//     Last-Modified with If-Modified-Since. Its ETag is its modification
//     time and size, set before ServeContent so If-None-Match answers 304;
//     it changes whenever a deploy rewrites the file, at no hashing cost.
//     X-Content-Type-Options: nosniff keeps browsers to that type.
//   - Nothing outside the mount's directory: every file is opened through
//     an os.Root, which refuses ".." and symbolic links that leave it. The
//     root is opened per request, not held, so a deploy that swaps the
//     directory (a symlink to the new release) is served at once.
//   - No name that starts with "." (.git, .env, .htpasswd): such a path is
//     404 and such an entry is never listed. A path with an empty segment
//     is 404 too, rather than redirected.
//   - A directory is served as its index.html; without one it is 404,
//     unless the mount sets list: true, which answers a small HTML page of
//     its entries. A directory asked for without its trailing "/" is
//     redirected to it, so that the page's relative links work.
//   - A missing file falls through to what the rule routes answer when
//     nothing matches (404, or 405 when a route has the path for another
//     method), so a mount at / changes no existing answer but for files.
//     So does everything when the directory has gone since the load.
//   - Static requests are not charged to limits.http_requests_per_second,
//     which bounds rule routes: one page load fetches many files. They are
//     counted in eventrouter_http_requests_total with the route label
//     static:PATH (the mount's path), a bounded set.

// staticMount serves one server.static entry.
type staticMount struct {
	prefix       string // the mount's path without a trailing "/"; "" for /
	dir          string
	list         bool
	cacheControl string
	label        string // the route label of its requests in the metrics
}

// newStaticMounts orders the config's mounts longest path first, so the
// most specific one is tried first.
func newStaticMounts(cfg []rules.StaticMount) []*staticMount {
	out := make([]*staticMount, 0, len(cfg))
	for _, m := range cfg {
		out = append(out, &staticMount{
			prefix: strings.TrimSuffix(m.Path, "/"), dir: m.Dir, list: m.List,
			cacheControl: m.CacheControl, label: "static:" + m.Path,
		})
	}
	slices.SortStableFunc(out, func(a, b *staticMount) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })
	return out
}

// staticMountFor returns the mount that covers p and p relative to it
// (without a leading "/"), or nil.
func staticMountFor(mounts []*staticMount, p string) (*staticMount, string) {
	for _, m := range mounts {
		if rest, ok := strings.CutPrefix(p, m.prefix); ok && (rest == "" || rest[0] == '/') {
			return m, strings.TrimPrefix(rest, "/")
		}
	}
	return nil, ""
}

// withStatic serves a request that no route of mux matches from the mount
// that covers it, and everything else, missing files included, with mux.
func withStatic(mux *http.ServeMux, mounts []*staticMount) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, pattern := mux.Handler(req); pattern == "" {
			if m, rel := staticMountFor(mounts, req.URL.Path); m != nil && m.serve(w, req, rel) {
				req.Pattern = m.label // the metrics' route label
				return
			}
		}
		mux.ServeHTTP(w, req)
	})
}

// serve answers req for rel, a path relative to the mount, and reports
// whether it did; false means no such file, for the caller to answer.
func (m *staticMount) serve(w http.ResponseWriter, req *http.Request, rel string) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	name, ok := staticName(rel)
	if !ok {
		http.NotFound(w, req)
		return true
	}
	root, err := os.OpenRoot(m.dir)
	if err != nil {
		return false
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return false // missing, unreadable, or outside the directory
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() || strings.HasSuffix(rel, "/") {
			return false
		}
		m.serveFile(w, req, f, fi)
		return true
	}
	if !strings.HasSuffix(req.URL.Path, "/") {
		target := path.Base(req.URL.Path) + "/"
		if req.URL.RawQuery != "" {
			target += "?" + req.URL.RawQuery
		}
		http.Redirect(w, req, target, http.StatusMovedPermanently)
		return true
	}
	if index, err := root.Open(path.Join(name, "index.html")); err == nil {
		defer index.Close()
		if ifi, err := index.Stat(); err == nil && ifi.Mode().IsRegular() {
			m.serveFile(w, req, index, ifi)
			return true
		}
	}
	if !m.list {
		return false
	}
	return m.serveListing(w, req, f)
}

// staticName turns a path relative to a mount into a name inside its
// root: "." for the mount itself. It refuses (ok false) a segment that is
// empty or starts with ".", which covers ".." however it was encoded,
// since the URL path is already decoded.
func staticName(rel string) (name string, ok bool) {
	rel = strings.TrimSuffix(rel, "/")
	if rel == "" {
		return ".", true
	}
	for seg := range strings.SplitSeq(rel, "/") {
		if seg == "" || seg[0] == '.' || strings.ContainsRune(seg, 0) {
			return "", false
		}
	}
	return rel, true
}

// serveFile answers with one file; the comment at the top of this file
// says why each header.
func (m *staticMount) serveFile(w http.ResponseWriter, req *http.Request, f io.ReadSeeker, fi os.FileInfo) {
	h := w.Header()
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size()))
	h.Set("X-Content-Type-Options", "nosniff")
	if m.cacheControl != "" {
		h.Set("Cache-Control", m.cacheControl)
	}
	http.ServeContent(w, req, fi.Name(), fi.ModTime(), f)
}

// serveListing answers with an HTML list of dir's entries, sorted, names
// starting with "." left out, every name escaped. It reports false when
// the directory cannot be read.
func (m *staticMount) serveListing(w http.ResponseWriter, req *http.Request, dir *os.File) bool {
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return false
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var b strings.Builder
	title := html.EscapeString(req.URL.Path)
	fmt.Fprintf(&b, "<!doctype html>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<h1>%s</h1>\n<ul>\n", title, title)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			name += "/"
		}
		href := (&url.URL{Path: name}).String() // "./a:b", not a scheme
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(href), html.EscapeString(name))
	}
	b.WriteString("</ul>\n")
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if m.cacheControl != "" {
		h.Set("Cache-Control", m.cacheControl)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, b.String())
	return true
}
