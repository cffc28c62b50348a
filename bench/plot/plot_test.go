package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func step(offered int, p99, lostFrac float64) Step {
	s := Step{Offered: offered, Achieved: float64(offered), LostFraction: lostFrac}
	s.Latency.P99 = p99
	return s
}

func TestSustained(t *testing.T) {
	tests := []struct {
		name        string
		steps       []Step
		want        int
		wantBounded bool
	}{
		{"none", nil, 0, false},
		{"all pass", []Step{step(5000, 10, 0), step(10000, 20, 0)}, 10000, false},
		{"knee", []Step{step(5000, 10, 0), step(25000, 90, 0), step(50000, 400, 0)}, 25000, true},
		{"exactly the bound passes", []Step{step(5000, 100, 0)}, 5000, false},
		{"loss fails a fast step", []Step{step(5000, 10, 0), step(10000, 20, 0.01)}, 5000, true},
		{"first fails", []Step{step(5000, 150, 0)}, 0, true},
		{"a pass above a failure does not count", []Step{step(5000, 10, 0), step(10000, 150, 0), step(25000, 20, 0)}, 5000, true},
	}
	for _, tt := range tests {
		got, bounded := Sustained(tt.steps)
		if got != tt.want || bounded != tt.wantBounded {
			t.Errorf("%s: Sustained = %d, %v; want %d, %v", tt.name, got, bounded, tt.want, tt.wantBounded)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{1: 1, 30000: 50000, 50000: 50000, 100000: 100000, 150000: 200000, 300000: 500000, 220000: 250000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestWriteSVGIsWellFormed(t *testing.T) {
	run := &Run{Clients: 1000, Steps: []Step{step(5000, 5, 0), step(25000, 20, 0), step(50000, 800, 0.2)}}
	list := []*Server{{Name: "a", Label: "A <&> B", Sweep: run}, {Name: "b", Label: "b", Sweep: run}}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, list); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&buf)
	for {
		_, err := d.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
	}
	var tab strings.Builder
	WriteTables(&tab, list)
	if !strings.Contains(tab.String(), "| **ratio a / b** | 1.00×") {
		t.Errorf("table lacks the ratio row:\n%s", tab.String())
	}
}

// TestIdleRunsMedian checks that several idle runs in NAME-rss.txt give
// their median, and that the table shows it with the runs' range.
func TestIdleRunsMedian(t *testing.T) {
	tests := []struct {
		name   string
		rss    string
		median float64
		cell   string
	}{
		{"one run", "rss_before_kb=1000\nrss_after_kb=121000\nn=10000\n", 12, "12.0 KB"},
		{"three runs", "rss_before_kb=1000\nrss_after_kb=121000\nn=10000\nrss_before_kb=1000\nrss_after_kb=111000\nn=10000\nrss_before_kb=1000\nrss_after_kb=131000\nn=10000\n", 12, "12.0 KB (3 runs: 11.0–13.0)"},
		{"two runs", "rss_before_kb=0\nrss_after_kb=100000\nn=10000\nrss_before_kb=0\nrss_after_kb=120000\nn=10000\n", 11, "11.0 KB (2 runs: 10.0–12.0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x-rss.txt"), []byte(tt.rss), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := load(dir, "x", "x")
			if err != nil {
				t.Fatal(err)
			}
			if got := s.RSSPerConnKB(); got != tt.median {
				t.Errorf("median %v KB, want %v", got, tt.median)
			}
			if got := rssCell(s.RSSRuns); got != tt.cell {
				t.Errorf("cell %q, want %q", got, tt.cell)
			}
		})
	}
}
