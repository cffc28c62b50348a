package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func st(offered int, p99, lostFrac float64, cpu map[string]float64, groups ...Group) Step {
	return Step{Offered: offered, Achieved: float64(offered) * (1 - lostFrac), LostFraction: lostFrac,
		Latency: Latency{P99: p99}, CPU: cpu, Groups: groups}
}

func gr(offered int, p99, lostFrac float64) Group {
	return Group{Offered: offered, Achieved: float64(offered), LostFraction: lostFrac, Latency: Latency{P99: p99}}
}

func TestSustained(t *testing.T) {
	tests := []struct {
		name        string
		steps       []Step
		want, at    int
		wantBounded bool
	}{
		{"none", nil, 0, -1, false},
		{"all pass", []Step{st(5000, 10, 0, nil), st(10000, 20, 0, nil)}, 10000, 1, false},
		{"knee", []Step{st(5000, 10, 0, nil), st(25000, 90, 0, nil), st(50000, 400, 0, nil)}, 25000, 1, true},
		{"loss fails", []Step{st(5000, 10, 0, nil), st(10000, 20, 0.01, nil)}, 5000, 0, true},
		{"pass above a failure does not count", []Step{st(5000, 10, 0, nil), st(10000, 150, 0, nil), st(25000, 20, 0, nil)}, 5000, 0, true},
		{"unsorted", []Step{st(25000, 20, 0, nil), st(5000, 10, 0, nil)}, 25000, 0, false},
		{"first fails", []Step{st(5000, 101, 0, nil)}, 0, -1, true},
	}
	for _, tt := range tests {
		got, at, bounded := Sustained(tt.steps)
		if got != tt.want || at != tt.at || bounded != tt.wantBounded {
			t.Errorf("%s: Sustained = %d, %d, %v; want %d, %d, %v", tt.name, got, at, bounded, tt.want, tt.at, tt.wantBounded)
		}
	}
}

func TestGroupRows(t *testing.T) {
	// the local group holds up to 150k in all, the cross-node one to 100k
	steps := []Step{
		st(100000, 30, 0, map[string]float64{"A": 40, "B": 50, "redis": 2}, gr(50000, 20, 0), gr(50000, 40, 0)),
		st(200000, 300, 0, map[string]float64{"A": 50, "B": 50, "redis": 3}, gr(100000, 50, 0), gr(100000, 900, 0)),
		st(300000, 900, 0, nil, gr(150000, 200, 0), gr(150000, 1500, 0.2)),
	}
	rs := rows(map[string]*Phase{"c": {Key: "c", Run: &Run{Steps: steps}}})
	tests := []struct {
		key          string
		rate, total  float64
		p99, redisCP float64
	}{
		{"c", 100000, 0, 30, 2},
		{"c-local", 100000, 200000, 50, 3},
		{"c-cross", 50000, 100000, 40, 2},
	}
	for _, tt := range tests {
		r := rs[tt.key]
		if r.Sustained != tt.rate || r.Total != tt.total || r.P99 != tt.p99 || r.CPU["redis"] != tt.redisCP {
			t.Errorf("%s: %+v; want rate %v total %v p99 %v redis %v", tt.key, r, tt.rate, tt.total, tt.p99, tt.redisCP)
		}
	}
}

func TestCostRatioAndSummary(t *testing.T) {
	a := &Run{Clients: 1000, Steps: []Step{
		st(100000, 20, 0, map[string]float64{"A": 40}),
		st(200000, 40, 0, map[string]float64{"A": 80}),
		st(300000, 150, 0, map[string]float64{"A": 100}),
	}}
	b := &Run{Clients: 1000, Steps: []Step{
		st(100000, 25, 0, map[string]float64{"A": 44, "B": 1, "redis": 1}),
		st(200000, 90, 0, map[string]float64{"A": 90, "B": 1, "redis": 2}),
		st(300000, 400, 0, map[string]float64{"A": 100, "B": 1, "redis": 2}),
	}}
	rate, ratio := costRatio(a, b)
	if rate != 200000 || math.Abs(ratio-90.0/80) > 1e-9 {
		t.Errorf("costRatio = %d, %v; want 200000, %v", rate, ratio, 90.0/80)
	}
	var buf bytes.Buffer
	WriteSummary(&buf, []map[string]*Phase{{"a": {Key: "a", Run: a}, "b": {Key: "b", Run: b}}})
	out := buf.String()
	for _, want := range []string{"| (a) single node, all clients on it | 200000 | 40.0 ms | A 80 % | — | 1 |",
		"| 200000 | 90.0 ms | A 90 %, B 1 % | 2.0 % | 1.00× |", "(b) ÷ (a): **1.00×**", "**met**", "1.12×"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestPassedAbove(t *testing.T) {
	steps := []Step{st(75000, 30, 0, nil), st(100000, 114, 0, nil), st(200000, 30, 0, nil), st(300000, 150, 0, nil)}
	r := rowOf(steps, nil)
	if r.Sustained != 75000 || r.PassedAbove != 200000 {
		t.Errorf("rowOf = %+v; want sustained 75000, passed above 200000", r)
	}
	var buf bytes.Buffer
	WriteSummary(&buf, []map[string]*Phase{{"a": {Key: "a", Run: &Run{Steps: steps}}}})
	if !strings.Contains(buf.String(), "| 75000 (a step above failed, yet steps up to 200000 passed: disturbed?) |") {
		t.Errorf("summary:\n%s", buf.String())
	}
}
