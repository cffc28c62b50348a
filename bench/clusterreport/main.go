// Command clusterreport turns the results of bench/cluster.sh into the
// markdown tables of bench/cluster-results.md and the summary table of
// BENCHMARKS.md's Cluster section.
//
// It reads, from -dir, for each phase P of -phases ("a b c") and each round
// R (1..-rounds; no number when -rounds is 1): PR-sweep.json
// (eventrouter-bench --json, with --watch-pids A=…,B=…,redis=… and, in
// phase c, --receiver-urls A,B), PR-cpu.txt (key=value lines written by
// cluster.sh: wall_s, cpu_s_NAME, redis_info_cpu_s, load_before,
// load_after) and PR-redis-commandstats.txt (Redis INFO commandstats).
//
//	go run ./bench/clusterreport -dir bin/bench-results/cluster-X -table t.md -summary s.md
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// SLO is the p99 bound, in milliseconds, of "sustained".
const SLO = 100.0

// maxLostFraction is the loss a step may have and still count as sustained.
const maxLostFraction = 0.001

// minLocalRatio is the bound: clustering may cost local
// throughput at most 20 %.
const minLocalRatio = 0.8

// Latency holds the percentiles of a step, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// Group mirrors one receiver group of an eventrouter-bench step.
type Group struct {
	URL          string  `json:"url"`
	Receivers    int     `json:"receivers"`
	Offered      int     `json:"offered_per_s"`
	Expected     int64   `json:"expected"`
	Received     int64   `json:"received"`
	Lost         int64   `json:"lost"`
	LostFraction float64 `json:"lost_fraction"`
	Achieved     float64 `json:"achieved_per_s"`
	Latency      Latency `json:"latency"`
	KeyOrderKept bool    `json:"key_order_kept"`
}

// Step mirrors the fields of one eventrouter-bench sweep step used here.
type Step struct {
	Offered      int                `json:"offered_per_s"`
	Achieved     float64            `json:"achieved_per_s"`
	Lost         int64              `json:"lost"`
	LostFraction float64            `json:"lost_fraction"`
	KeyOrderKept bool               `json:"key_order_kept"`
	BenchCPUPct  float64            `json:"bench_cpu_pct"`
	Latency      Latency            `json:"latency"`
	CPU          map[string]float64 `json:"watched_cpu_pct"`
	Groups       []Group            `json:"groups"`
}

// Run mirrors the parts of an eventrouter-bench result used here.
type Run struct {
	Clients      int      `json:"clients"`
	Steps        []Step   `json:"steps"`
	StoppedEarly string   `json:"stopped_early"`
	Disconnects  int64    `json:"disconnects"`
	BadFrames    int64    `json:"bad_frames"`
	Errors       []string `json:"errors"`
	Connect      *struct {
		Attempted int `json:"attempted"`
		Connected int `json:"connected"`
	} `json:"connect"`
}

// Phase is one phase of one round.
type Phase struct {
	// Key is "a", "b" or "c"; Name is the file prefix (key + round).
	Key, Name string
	// Run is the sweep (nil when missing).
	Run *Run
	// Totals are PR-cpu.txt's values.
	Totals map[string]string
	// RedisCmds are Redis's per-command stats, by command.
	RedisCmds map[string]map[string]string
	// Counters are each node's eventrouter_cluster_* metrics after the
	// sweep (PR-NODE-metrics.txt), by node, then by metric name.
	Counters map[string]map[string]string
}

// Sustained returns the highest offered rate up to which every step kept
// p99 within SLO and loss at most maxLostFraction (bench/plot's rule), and
// the index of that step in steps (-1 when none). bounded reports whether
// a failing step ended it.
func Sustained(steps []Step) (rate, at int, bounded bool) {
	idx := make([]int, len(steps))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return steps[a].Offered - steps[b].Offered })
	at = -1
	for _, i := range idx {
		s := steps[i]
		if !passes(s) {
			return rate, at, true
		}
		rate, at = s.Offered, i
	}
	return rate, at, false
}

// passes reports whether step s kept p99 within SLO and its losses within
// maxLostFraction.
func passes(s Step) bool {
	return s.Latency.P99 <= SLO && s.LostFraction <= maxLostFraction && s.Achieved > 0
}

// groupSteps returns group g of every step as a Step of its own, with the
// group's share as the offered rate; steps without that group are skipped.
func groupSteps(steps []Step, g int) []Step {
	var out []Step
	for _, s := range steps {
		if g >= len(s.Groups) {
			continue
		}
		gr := s.Groups[g]
		out = append(out, Step{Offered: gr.Offered, Achieved: gr.Achieved, Lost: gr.Lost,
			LostFraction: gr.LostFraction, KeyOrderKept: gr.KeyOrderKept, Latency: gr.Latency, CPU: s.CPU})
	}
	return out
}

// Row is one line of the summary for one round: a sustained rate and what
// the processes did at it.
type Row struct {
	Sustained float64 // deliveries/s (NaN: not measured)
	Bounded   bool    // a failing step ended the sweep
	P99       float64 // ms, at the sustained step
	CPU       map[string]float64
	Total     float64 // total offered deliveries/s at the sustained step (groups)
	// PassedAbove is the highest passing step above a failing one (0:
	// none): a sweep that fails once and passes again above was probably
	// disturbed, and the report says so.
	PassedAbove float64
}

func rowOf(steps []Step, total []Step) Row {
	if len(steps) == 0 {
		return Row{Sustained: math.NaN(), P99: math.NaN()}
	}
	rate, at, bounded := Sustained(steps)
	r := Row{Sustained: float64(rate), Bounded: bounded, P99: math.NaN()}
	if at >= 0 {
		r.P99 = steps[at].Latency.P99
		r.CPU = steps[at].CPU
		if total != nil {
			r.Total = float64(total[at].Offered)
		}
	}
	for _, st := range steps {
		if float64(st.Offered) > r.Sustained && passes(st) {
			r.PassedAbove = max(r.PassedAbove, float64(st.Offered))
		}
	}
	return r
}

// rows computes the summary rows of one round, keyed "a", "b", "c",
// "c-local", "c-cross".
func rows(phases map[string]*Phase) map[string]Row {
	out := map[string]Row{}
	for k, p := range phases {
		if p.Run == nil {
			continue
		}
		out[k] = rowOf(p.Run.Steps, nil)
		if k == "c" {
			out["c-local"] = rowOf(groupSteps(p.Run.Steps, 0), p.Run.Steps)
			out["c-cross"] = rowOf(groupSteps(p.Run.Steps, 1), p.Run.Steps)
		}
	}
	return out
}

// usPerDelivery is the CPU time, in µs, that the processes named spent per
// delivery at step s; NaN when unknown.
func usPerDelivery(s *Step, names ...string) float64 {
	if s == nil || s.Achieved <= 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, n := range names {
		v, ok := s.CPU[n]
		if !ok {
			return math.NaN()
		}
		sum += v
	}
	return sum / 100 / s.Achieved * 1e6
}

func stepAt(r *Run, rate int) *Step {
	if r == nil {
		return nil
	}
	for i := range r.Steps {
		if r.Steps[i].Offered == rate {
			return &r.Steps[i]
		}
	}
	return nil
}

// costRatio compares the CPU per delivery of node A in b against a at the
// highest offered rate both sustained; it returns the rate and the ratio.
func costRatio(a, b *Run) (int, float64) {
	if a == nil || b == nil {
		return 0, math.NaN()
	}
	ra, _, _ := Sustained(a.Steps)
	rb, _, _ := Sustained(b.Steps)
	best := 0
	for _, s := range a.Steps {
		if s.Offered <= min(ra, rb) && s.Offered > best && stepAt(b, s.Offered) != nil {
			best = s.Offered
		}
	}
	if best == 0 {
		return 0, math.NaN()
	}
	return best, usPerDelivery(stepAt(b, best), "A") / usPerDelivery(stepAt(a, best), "A")
}

func main() {
	dir := flag.String("dir", "", "directory holding cluster.sh's results")
	rounds := flag.Int("rounds", 1, "rounds cluster.sh ran")
	phaseList := flag.String("phases", "a b c", "phases cluster.sh ran")
	tablePath := flag.String("table", "", "write the full markdown tables here (default stdout)")
	summaryPath := flag.String("summary", "", "write the summary table here")
	flag.Parse()
	if *dir == "" || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "cluster-report: -dir is required, -rounds ≥ 1")
		os.Exit(2)
	}
	var all []map[string]*Phase
	for r := 1; r <= *rounds; r++ {
		tag := ""
		if *rounds > 1 {
			tag = strconv.Itoa(r)
		}
		m := map[string]*Phase{}
		for _, k := range strings.Fields(*phaseList) {
			p, err := load(*dir, k, k+tag)
			if err != nil {
				fmt.Fprintf(os.Stderr, "cluster-report: %v\n", err)
				os.Exit(1)
			}
			m[k] = p
		}
		all = append(all, m)
	}
	if err := writeFile(*tablePath, func(w io.Writer) { WriteTables(w, all) }); err != nil {
		fmt.Fprintf(os.Stderr, "cluster-report: %v\n", err)
		os.Exit(1)
	}
	if *summaryPath != "" {
		if err := writeFile(*summaryPath, func(w io.Writer) { WriteSummary(w, all) }); err != nil {
			fmt.Fprintf(os.Stderr, "cluster-report: %v\n", err)
			os.Exit(1)
		}
	}
}

func writeFile(path string, write func(io.Writer)) error {
	if path == "" {
		write(os.Stdout)
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	write(f)
	return f.Close()
}

// load reads the files of one phase; missing files leave fields empty.
func load(dir, key, name string) (*Phase, error) {
	p := &Phase{Key: key, Name: name, Totals: map[string]string{}, RedisCmds: map[string]map[string]string{},
		Counters: map[string]map[string]string{}}
	b, err := os.ReadFile(filepath.Join(dir, name+"-sweep.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		var r Run
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s-sweep.json: %w", name, err)
		}
		p.Run = &r
	}
	if err := eachLine(filepath.Join(dir, name+"-cpu.txt"), func(line string) {
		if k, v, ok := strings.Cut(line, "="); ok {
			p.Totals[k] = v
		}
	}); err != nil {
		return nil, err
	}
	// cmdstat_xadd:calls=300,usec=1200,usec_per_call=4.00,...
	if err := eachLine(filepath.Join(dir, name+"-redis-commandstats.txt"), func(line string) {
		cmd, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			return
		}
		kv := map[string]string{}
		for _, f := range strings.Split(rest, ",") {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = v
			}
		}
		p.RedisCmds[cmd] = kv
	}); err != nil {
		return nil, err
	}
	// eventrouter_cluster_published_total{node="A"} 3901
	for _, node := range []string{"A", "B"} {
		m := map[string]string{}
		if err := eachLine(filepath.Join(dir, name+"-"+node+"-metrics.txt"), func(line string) {
			f := strings.Fields(line)
			if len(f) != 2 {
				return
			}
			metric, _, _ := strings.Cut(f[0], "{")
			m[strings.TrimPrefix(metric, "eventrouter_cluster_")] = f[1]
		}); err != nil {
			return nil, err
		}
		if len(m) > 0 {
			p.Counters[node] = m
		}
	}
	return p, nil
}

func eachLine(path string, fn func(string)) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fn(strings.TrimSpace(sc.Text()))
	}
	return sc.Err()
}

// summary rows, in order: key, label.
var summaryRows = [][2]string{
	{"a", "(a) single node, all clients on it"},
	{"b", "(b) cluster, all clients on A: **local delivery**"},
	{"c", "(c) cluster, clients split A/B: overall"},
	{"c-local", "(c) local delivery (receivers on A)"},
	{"c-cross", "(c) **cross-node delivery** (receivers on B)"},
}

// cell formats a rate, with "≥" when no step failed.
func rateCell(v float64, bounded bool) string {
	switch {
	case math.IsNaN(v):
		return "not measured"
	case v == 0:
		return "none (the first step failed)"
	case !bounded:
		return fmt.Sprintf("≥ %.0f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func numCell(v float64, format string) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

func ratioCell(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func nodeCPUCell(cpu map[string]float64) string {
	var parts []string
	for _, n := range []string{"A", "B"} {
		if v, ok := cpu[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %.0f %%", n, v))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func redisCPUCell(cpu map[string]float64) string {
	if v, ok := cpu["redis"]; ok {
		return fmt.Sprintf("%.1f %%", v)
	}
	return "—"
}

// WriteSummary writes the short table of BENCHMARKS.md's Cluster section.
// With several rounds, each cell gives every round's value, in order.
func WriteSummary(w io.Writer, all []map[string]*Phase) {
	var rs []map[string]Row
	for _, m := range all {
		rs = append(rs, rows(m))
	}
	clients := 0
	for _, m := range all {
		for _, p := range m {
			if p.Run != nil {
				clients = max(clients, p.Run.Clients)
			}
		}
	}
	if len(all) > 1 {
		fmt.Fprintf(w, "%d rounds, interleaved; where a cell holds %d values they are the rounds', in order.\n\n", len(all), len(all))
	}
	// cells joins one formatted value per round that has the row
	cells := func(key string, f func(round int, r Row) string) (string, bool) {
		var parts []string
		for i, m := range rs {
			if r, ok := m[key]; ok {
				parts = append(parts, f(i, r))
			}
		}
		return strings.Join(parts, " / "), len(parts) > 0
	}
	fmt.Fprintf(w, "| %d clients | sustained deliveries/s at p99 ≤ %.0f ms | p99 there | node CPU there (one core = 100 %%) | Redis CPU there | vs (a) |\n", clients, SLO)
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, sr := range summaryRows {
		key := sr[0]
		rate, ok := cells(key, func(_ int, r Row) string {
			c := rateCell(r.Sustained, r.Bounded)
			if strings.HasPrefix(key, "c-") && r.Total > 0 {
				c += fmt.Sprintf(" (of %.0f offered in all)", r.Total)
			}
			if r.PassedAbove > 0 {
				c += fmt.Sprintf(" (a step above failed, yet steps up to %.0f passed: disturbed?)", r.PassedAbove)
			}
			return c
		})
		if !ok {
			continue
		}
		p99, _ := cells(key, func(_ int, r Row) string { return numCell(r.P99, "%.1f ms") })
		node, _ := cells(key, func(_ int, r Row) string { return nodeCPUCell(r.CPU) })
		redis, _ := cells(key, func(_ int, r Row) string { return redisCPUCell(r.CPU) })
		vs, _ := cells(key, func(i int, r Row) string {
			a, ok := rs[i]["a"]
			switch {
			case key == "a":
				return "1"
			case strings.HasPrefix(key, "c-") || !ok:
				return "—"
			}
			c := ratioCell(r.Sustained, a.Sustained)
			switch {
			case !a.Bounded && r.Bounded:
				c = "≤ " + c // (a) may go higher
			case a.Bounded && !r.Bounded:
				c = "≥ " + c
			case !a.Bounded && !r.Bounded:
				c += "*"
			}
			if a.PassedAbove > 0 || r.PassedAbove > 0 {
				c += " (disturbed)"
			}
			return c
		})
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", sr[1], rate, p99, node, redis, vs)
	}
	fmt.Fprintln(w)

	var ratios, costs []string
	var notes []string
	counted, met := 0, true
	costRate := 0
	for _, m := range all {
		if m["a"] == nil || m["b"] == nil || m["a"].Run == nil || m["b"].Run == nil {
			continue
		}
		ra, rb := rowOf(m["a"].Run.Steps, nil), rowOf(m["b"].Run.Steps, nil)
		ratio := math.NaN()
		if ra.Sustained > 0 {
			ratio = rb.Sustained / ra.Sustained
		}
		r := ratioCell(ratio, 1)
		switch {
		case !ra.Bounded && !rb.Bounded:
			r += "*"
			notes = append(notes, "*: both passed every rate tried, so they are equal as far as this load generator can tell")
		case !ra.Bounded:
			r = "≤ " + r // (a) may go higher
			notes = append(notes, "≤: (a) passed every rate tried, so the ratio is at most this")
		case !rb.Bounded:
			r = "≥ " + r
			notes = append(notes, "≥: (b) passed every rate tried, so the ratio is at least this")
		}
		if ra.PassedAbove > 0 || rb.PassedAbove > 0 {
			r += " (disturbed, not counted)"
			notes = append(notes, "a round is not counted when a sweep failed a step and passed higher ones: something else used the CPUs")
		} else {
			counted++
			met = met && ratio >= minLocalRatio
		}
		ratios = append(ratios, r)
		rate, c := costRatio(m["a"].Run, m["b"].Run)
		costs = append(costs, ratioCell(c, 1))
		costRate = max(costRate, rate)
	}
	if len(ratios) == 0 {
		return
	}
	verdict := "**met**"
	switch {
	case counted == 0:
		verdict = "**not established** (every round disturbed)"
	case !met:
		verdict = "**not met**"
	}
	if len(notes) > 0 {
		slices.Sort(notes)
		verdict += " (" + strings.Join(slices.Compact(notes), "; ") + ")"
	}
	fmt.Fprintf(w, "Local throughput with clustering, (b) ÷ (a): **%s** (bound: ≥ %.2f×, clustering may cost at most 20 %%): %s. ",
		strings.Join(ratios, " / "), minLocalRatio, verdict)
	fmt.Fprintf(w, "Node A's CPU per delivery, (b) ÷ (a), at the highest rate both sustained (%d deliveries/s at most): %s.\n", costRate, strings.Join(costs, " / "))
}

// WriteTables writes the summary, the per-phase totals and each phase's
// per-rate table.
func WriteTables(w io.Writer, all []map[string]*Phase) {
	WriteSummary(w, all)
	fmt.Fprintln(w)

	fmt.Fprintln(w, "### CPU over each whole sweep")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "From connecting the clients to the end of the last step's drain; % of one core. Redis's own CPU from `/proc/PID/stat` and from `INFO cpu` (used_cpu_user + used_cpu_sys); its command counts from `INFO commandstats`.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Cluster counters are each node's `eventrouter_cluster_*` metrics at the end of the sweep: broadcasts published / unpublished (reached this node's clients only) / of those, dropped from a full publish queue / failed Redis commands.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| phase | sweep s | node A | node B | Redis (/proc) | Redis (INFO cpu) | Redis XADD calls, µs per call | Redis stream reads (XREAD) calls, µs per call | cluster counters A; B | load average before → after |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, m := range all {
		for _, k := range []string{"a", "b", "c"} {
			p := m[k]
			if p == nil || p.Run == nil {
				continue
			}
			wall, _ := strconv.ParseFloat(p.Totals["wall_s"], 64)
			pct := func(key string) string {
				v, err := strconv.ParseFloat(p.Totals[key], 64)
				if err != nil || wall <= 0 {
					return "—"
				}
				return fmt.Sprintf("%.1f %%", v/wall*100)
			}
			cmd := func(name string) string {
				c, ok := p.RedisCmds[name]
				if !ok {
					return "—"
				}
				return c["calls"] + ", " + c["usec_per_call"]
			}
			var counters []string
			for _, node := range []string{"A", "B"} {
				if c, ok := p.Counters[node]; ok {
					get := func(k string) string {
						if v, ok := c[k]; ok {
							return v
						}
						return "?"
					}
					counters = append(counters, fmt.Sprintf("%s / %s / %s / %s", get("published_total"), get("unpublished_total"),
						get("queue_full_total"), get("redis_errors_total")))
				}
			}
			cc := strings.Join(counters, "; ")
			if cc == "" {
				cc = "—"
			}
			fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s → %s |\n", p.Name, wall, pct("cpu_s_A"), pct("cpu_s_B"),
				pct("cpu_s_redis"), pct("redis_info_cpu_s"), cmd("xadd"), cmd("xread"), cc, p.Totals["load_before"], p.Totals["load_after"])
		}
	}

	for _, m := range all {
		for _, k := range []string{"a", "b", "c"} {
			p := m[k]
			if p == nil || p.Run == nil {
				continue
			}
			fmt.Fprintln(w)
			writePhase(w, p)
		}
	}
}

var phaseTitle = map[string]string{
	"a": "single node",
	"b": "cluster, all receivers and the sender on node A (local delivery)",
	"c": "cluster, receivers split over A and B, sender on A",
}

func stepCPU(s *Step, n string) string {
	if v, ok := s.CPU[n]; ok {
		return fmt.Sprintf("%.0f %%", v)
	}
	return "—"
}

func writePhase(w io.Writer, p *Phase) {
	r := p.Run
	fmt.Fprintf(w, "### (%s) %s\n\n", p.Name, phaseTitle[p.Key])
	if r.Connect != nil {
		fmt.Fprintf(w, "%d of %d connections up; ", r.Connect.Connected, r.Connect.Attempted)
	}
	fmt.Fprintf(w, "disconnects %d, bad frames %d. p50 / p99 / max in ms; CPU in %% of one core over the step and its drain; µs/delivery = the nodes' CPU time per delivery.\n\n", r.Disconnects, r.BadFrames)
	switch p.Key {
	case "c":
		fmt.Fprintln(w, "| offered deliveries/s (all) | achieved/s | p50 / p99 / max | lost | local (A): offered, achieved/s | local p50 / p99 / max | local lost | cross-node (B): offered, achieved/s | cross p50 / p99 / max | cross lost | key order kept A / B | node A CPU | node B CPU | Redis CPU | A+B µs/delivery | bench CPU |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for i := range r.Steps {
			s := &r.Steps[i]
			fmt.Fprintf(w, "| %d | %.0f | %.1f / %.1f / %.1f | %d |", s.Offered, s.Achieved, s.Latency.P50, s.Latency.P99, s.Latency.Max, s.Lost)
			order := []string{}
			for g := 0; g < 2; g++ {
				if g >= len(s.Groups) {
					fmt.Fprint(w, " — | — | — |")
					order = append(order, "—")
					continue
				}
				gr := s.Groups[g]
				fmt.Fprintf(w, " %d, %.0f | %.1f / %.1f / %.1f | %d |", gr.Offered, gr.Achieved, gr.Latency.P50, gr.Latency.P99, gr.Latency.Max, gr.Lost)
				order = append(order, yesNo(gr.KeyOrderKept))
			}
			fmt.Fprintf(w, " %s | %s | %s | %s | %s | %.0f %% |\n", strings.Join(order, " / "), stepCPU(s, "A"), stepCPU(s, "B"), stepCPU(s, "redis"),
				numCell(usPerDelivery(s, "A", "B"), "%.2f"), s.BenchCPUPct)
		}
	default:
		fmt.Fprintln(w, "| offered deliveries/s | achieved/s | p50 / p99 / max | lost | key order kept | node A CPU | node B CPU | Redis CPU | A µs/delivery | bench CPU |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
		for i := range r.Steps {
			s := &r.Steps[i]
			fmt.Fprintf(w, "| %d | %.0f | %.1f / %.1f / %.1f | %d | %s | %s | %s | %s | %s | %.0f %% |\n", s.Offered, s.Achieved,
				s.Latency.P50, s.Latency.P99, s.Latency.Max, s.Lost, yesNo(s.KeyOrderKept), stepCPU(s, "A"), stepCPU(s, "B"), stepCPU(s, "redis"),
				numCell(usPerDelivery(s, "A"), "%.2f"), s.BenchCPUPct)
		}
	}
	if r.StoppedEarly != "" {
		fmt.Fprintf(w, "\nSweep stopped early: %s.\n", r.StoppedEarly)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "\nBench error: `%s`\n", e)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
