package engine

import (
	"net/http"
	"reflect"
	"testing"
)

// TestPackHeader checks that the handshake headers a connection keeps in
// one string come back as they were: every name, every value, in order.
func TestPackHeader(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
	}{
		{"empty", http.Header{}},
		{"one", http.Header{"User-Agent": {"bench"}}},
		{"several values in order", http.Header{"Cookie": {"a=1", "b=2"}, "Accept": {"*/*"}}},
		{"empty value", http.Header{"X-Empty": {""}, "X-Next": {"v"}}},
		{"non-ASCII value", http.Header{"X-Name": {"Zoë ☃"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unpackHeader(packHeader(tt.h)); !reflect.DeepEqual(got, tt.h) {
				t.Errorf("unpackHeader(packHeader(%v)) = %v", tt.h, got)
			}
		})
	}
}
