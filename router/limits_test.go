package router

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/eventrouter/eventrouter/rules"
)

// TestLimitLogIsBounded: every hit is counted, but a flood logs only the
// burst, and the next line says how many it stands for.
func TestLimitLogIsBounded(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	l := newLimitLog(zap.New(core), prometheus.NewRegistry())
	for range 1000 {
		l.hit("origin", "refused")
	}
	l.hit("other", "refused")
	if got := testutil.ToFloat64(l.count.WithLabelValues("origin")); got != 1000 {
		t.Errorf("counted %v, want 1000", got)
	}
	if n := logs.FilterField(zap.String("limit", "origin")).Len(); n < limitLogBurst || n > limitLogBurst+2 {
		t.Errorf("%d lines for 1000 hits, want about %d", n, limitLogBurst)
	}
	if n := logs.FilterField(zap.String("limit", "other")).Len(); n != 1 {
		t.Errorf("another limit has its own budget: %d lines, want 1", n)
	}
}

func TestWarnAnyOrigin(t *testing.T) {
	tests := []struct {
		origins []string
		warned  bool
	}{
		{[]string{"*"}, true},
		{[]string{"https://a.example", "*"}, true},
		{[]string{"https://a.example"}, false},
	}
	for _, tc := range tests {
		core, logs := observer.New(zap.WarnLevel)
		cfg := rules.Defaults()
		cfg.Server.CORS.Origins = tc.origins
		warnAnyOrigin(zap.New(core), &cfg)
		if got := logs.FilterMessageSnippet("any web site may connect").Len() == 1; got != tc.warned {
			t.Errorf("origins %q: warned %v, want %v", tc.origins, got, tc.warned)
		}
	}
}
