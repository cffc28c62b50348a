package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
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
