package router

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestPreflightRefusalLogged checks that a CORS preflight the config does
// not allow is logged at debug with the origin, what it asked for, the
// reason and the config key to change, and that an allowed one is not.
func TestPreflightRefusalLogged(t *testing.T) {
	config := `server:
  cors:
    origins: ["https://app.example"]
    methods: ["GET", "POST"]
rules:
  - name: post
    on: POST /post
    do:
      - 'respond(200, {"ok": true})'
`
	cases := []struct {
		name       string
		origin     string
		method     string
		headers    string
		wantStatus int
		wantReason string // "" when no refusal is logged
		wantKey    string
	}{
		{"allowed", "https://app.example", "POST", "content-type", 204, "", ""},
		{"method not allowed", "https://app.example", "PUT", "", 204, "method 'PUT' not allowed", "server.cors.methods"},
		{"header not allowed", "https://app.example", "POST", "content-type,x-secret", 204, "headers '[content-type,x-secret]' not allowed", "server.cors.headers"},
		{"no origin", "", "POST", "", 204, "empty origin", ""},
		// A foreign origin is refused with 403 before CORS, and logged as such.
		{"foreign origin", "https://evil.example", "POST", "", 403, "", ""},
	}
	core, logs := observer.New(zap.DebugLevel)
	r, err := New(loadReloadTestConfig(t, config), Options{Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs.TakeAll()
			req := httptest.NewRequest(http.MethodOptions, "/post", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			req.Header.Set("Access-Control-Request-Method", tc.method)
			if tc.headers != "" {
				req.Header.Set("Access-Control-Request-Headers", tc.headers)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tc.wantStatus)
			}
			allowed := w.Header().Get("Access-Control-Allow-Origin") != ""
			if wantAllowed := tc.wantStatus == 204 && tc.wantReason == ""; allowed != wantAllowed {
				t.Errorf("Access-Control-Allow-Origin %q, want allowed=%v", w.Header().Get("Access-Control-Allow-Origin"), wantAllowed)
			}
			refusals := logs.FilterMessage("CORS preflight refused").All()
			if tc.wantReason == "" {
				if len(refusals) != 0 {
					t.Errorf("logged as a refused preflight: %v", refusals[0].ContextMap())
				}
				return
			}
			if len(refusals) != 1 {
				t.Fatalf("%d refusal log lines, want 1; logs: %v", len(refusals), logs.All())
			}
			got := refusals[0]
			if got.Level != zapcore.DebugLevel {
				t.Errorf("level %s, want debug", got.Level)
			}
			want := map[string]any{
				"path": "/post", "origin": tc.origin, "method": tc.method, "headers": tc.headers,
				"reason": tc.wantReason, "config_key": tc.wantKey,
			}
			fields := got.ContextMap()
			for k, v := range want {
				if fields[k] != v {
					t.Errorf("field %s = %v, want %v", k, fields[k], v)
				}
			}
		})
	}
}
