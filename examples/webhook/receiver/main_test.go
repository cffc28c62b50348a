package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/backend"
)

func TestHandlerVerifies(t *testing.T) {
	const secret = "s3cret"
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"event":"send_message","text":"hi"}`)
	good := backend.Sign(secret, now, body)
	for _, tc := range []struct {
		name   string
		sig    string
		body   []byte
		status int
	}{
		{"good", good, body, http.StatusNoContent},
		{"tampered body", good, []byte(`{"event":"send_message","text":"ho"}`), http.StatusUnauthorized},
		{"wrong secret", backend.Sign("other", now, body), body, http.StatusUnauthorized},
		{"stale", backend.Sign(secret, now.Add(-time.Hour), body), body, http.StatusUnauthorized},
		{"missing", "", body, http.StatusUnauthorized},
		{"malformed", "t=x,v1=zz", body, http.StatusUnauthorized},
		{"tampered time", strings.Replace(good, "t=1700000000", "t=1700000001", 1), body, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			req := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(tc.body))
			req.Header.Set(backend.HeaderSignature, tc.sig)
			req.Header.Set(backend.HeaderDelivery, "d-1")
			rec := httptest.NewRecorder()
			handler(secret, &out, func() time.Time { return now }).ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if printed := out.String(); (tc.status == http.StatusNoContent) != (printed == "d-1 "+string(body)+"\n") {
				t.Errorf("printed %q", printed)
			}
		})
	}
}
