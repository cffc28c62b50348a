// Command plot turns the results of bench/run.sh into the comparison table
// of BENCHMARKS.md and an SVG plot of p99 latency against offered rate.
//
// It reads, from -dir, for each server NAME: NAME-sweep.json,
// NAME-latency.json and NAME-connect.json (eventrouter-bench --json output)
// and NAME-rss.txt (key=value lines written by run.sh: rss_before_kb,
// rss_after_kb, n). Missing files leave their cells as "not measured".
//
//	go run ./bench/plot -dir bin/bench-results/X -svg bench/p99-vs-rate.svg -table table.md
//
// It needs nothing beyond the standard library: the SVG is written with
// text/template.
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

// Step mirrors the fields of one eventrouter-bench sweep step used here.
type Step struct {
	// Offered is the offered deliveries/s.
	Offered int `json:"offered_per_s"`
	// Achieved is the measured deliveries/s.
	Achieved float64 `json:"achieved_per_s"`
	// Lost is the number of deliveries that never arrived.
	Lost int64 `json:"lost"`
	// LostFraction is Lost / expected.
	LostFraction float64 `json:"lost_fraction"`
	// KeyOrderKept reports payload key order fidelity.
	KeyOrderKept bool `json:"key_order_kept"`
	// BenchCPUPct is the load generator's CPU use during the step.
	BenchCPUPct float64 `json:"bench_cpu_pct"`
	// WatchedCPUPct is the CPU use of the processes the bench watched
	// (bench/run.sh watches the server as "server").
	WatchedCPUPct map[string]float64 `json:"watched_cpu_pct"`
	// Latency holds the percentiles in milliseconds.
	Latency struct {
		P50 float64 `json:"p50_ms"`
		P99 float64 `json:"p99_ms"`
		Max float64 `json:"max_ms"`
	} `json:"latency"`
}

// Run mirrors the parts of an eventrouter-bench result used here.
type Run struct {
	// Clients is the number of receivers.
	Clients int `json:"clients"`
	// Connect is the connection phase.
	Connect *struct {
		Attempted int     `json:"attempted"`
		Connected int     `json:"connected"`
		Errors    int     `json:"errors"`
		PerSecond float64 `json:"connects_per_s"`
	} `json:"connect"`
	// Steps are the sweep steps.
	Steps []Step `json:"steps"`
	// StoppedEarly says why a sweep ended early.
	StoppedEarly string `json:"stopped_early"`
}

// Server is everything measured for one server.
type Server struct {
	// Name is the file prefix, e.g. "eventrouter".
	Name string
	// Label is the name shown in tables and the plot.
	Label string
	// Sweep, Latency and Connect are the bench results (nil when missing).
	Sweep, Latency, Connect *Run
	// IdleN is the number of idle connections, and RSSRuns the RSS growth
	// per connection in KB of each idle run, from NAME-rss.txt.
	IdleN   int
	RSSRuns []float64
}

// SLO is the p99 bound, in milliseconds, of the "sustained" column.
const SLO = 100.0

// maxLostFraction is the loss a step may have and still count as sustained.
const maxLostFraction = 0.001

// Sustained returns the highest offered rate up to which every step of the
// sweep kept p99 within SLO and loss at most maxLostFraction: a step that
// passes above a failing one does not count. bounded reports whether a
// failing step ended it (false: the true figure may be higher). It returns
// 0 when the first step fails.
func Sustained(steps []Step) (rate int, bounded bool) {
	sorted := slices.Clone(steps)
	slices.SortFunc(sorted, func(a, b Step) int { return a.Offered - b.Offered })
	for _, s := range sorted {
		if s.Latency.P99 > SLO || s.LostFraction > maxLostFraction || s.Achieved <= 0 {
			return rate, true
		}
		rate = s.Offered
	}
	return rate, false
}

// at25k returns the step at exactly 25 000 deliveries/s of r, if any.
func at25k(r *Run) *Step {
	if r == nil {
		return nil
	}
	for i := range r.Steps {
		if r.Steps[i].Offered == 25000 {
			return &r.Steps[i]
		}
	}
	return nil
}

// RSSPerConnKB is the idle RSS growth per connection in KB, the median of
// the idle runs (the collector's timing moves one run's figure by about
// 10 %), or NaN.
func (s *Server) RSSPerConnKB() float64 { return median(s.RSSRuns) }

// median is the median of xs, or NaN when there are none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	if n := len(sorted); n%2 == 0 {
		return (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return sorted[len(sorted)/2]
}

func main() {
	dir := flag.String("dir", "", "directory holding the run's results")
	svgPath := flag.String("svg", "", "write the p99-vs-offered-rate plot here")
	tablePath := flag.String("table", "", "write the markdown tables here (default stdout)")
	servers := flag.String("servers", "eventrouter=eventrouter,node=Node (Express + socket.io 4.8)", "name=label pairs, the first is the numerator of the ratios")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "plot: -dir is required")
		os.Exit(2)
	}
	var list []*Server
	for _, pair := range strings.Split(*servers, ",") {
		name, label, _ := strings.Cut(pair, "=")
		if label == "" {
			label = name
		}
		s, err := load(*dir, name, label)
		if err != nil {
			fmt.Fprintf(os.Stderr, "plot: %v\n", err)
			os.Exit(1)
		}
		list = append(list, s)
	}
	if *svgPath != "" {
		f, err := os.Create(*svgPath)
		if err == nil {
			err = WriteSVG(f, list)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "plot: %v\n", err)
			os.Exit(1)
		}
	}
	var w io.Writer = os.Stdout
	if *tablePath != "" {
		f, err := os.Create(*tablePath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "plot: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	WriteTables(w, list)
}

// load reads the result files of one server; missing files are skipped.
func load(dir, name, label string) (*Server, error) {
	s := &Server{Name: name, Label: label}
	for suffix, dst := range map[string]**Run{"sweep": &s.Sweep, "latency": &s.Latency, "connect": &s.Connect} {
		b, err := os.ReadFile(filepath.Join(dir, name+"-"+suffix+".json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var r Run
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s-%s.json: %w", name, suffix, err)
		}
		*dst = &r
	}
	f, err := os.Open(filepath.Join(dir, name+"-rss.txt"))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One block of rss_before_kb, rss_after_kb and n per idle run; n ends
	// a block.
	sc := bufio.NewScanner(f)
	before, after := 0, 0
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(v)
		switch k {
		case "rss_before_kb":
			before = n
		case "rss_after_kb":
			after = n
		case "n":
			if n > 0 && after > 0 {
				s.IdleN = n
				s.RSSRuns = append(s.RSSRuns, float64(after-before)/float64(n))
			}
		}
	}
	return s, sc.Err()
}

// WriteTables writes the summary table, with a ratio row of the first
// server over the second, and the per-step sweep table.
func WriteTables(w io.Writer, list []*Server) {
	idleN, connN, clients := 0, 0, 0
	for _, s := range list {
		idleN = max(idleN, s.IdleN)
		if s.Connect != nil && s.Connect.Connect != nil {
			connN = max(connN, s.Connect.Connect.Attempted)
		}
		if s.Sweep != nil {
			clients = max(clients, s.Sweep.Clients)
		}
	}
	fmt.Fprintf(w, "| server | sustained deliveries/s at p99 ≤ %.0f ms (%d clients) | p50 / p99 at 25k deliveries/s | RSS per idle websocket connection (%d clients; median of the runs) | connects/s (%d concurrent clients) | payload key order kept |\n", SLO, clients, idleN, connN)
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, s := range list {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", s.Label, sustainedCell(s), latencyCell(s), rssCell(s.RSSRuns), connectCell(s), orderCell(s))
	}
	if len(list) >= 2 {
		a, b := list[0], list[1]
		ra, _ := sustainedOf(a)
		rb, _ := sustainedOf(b)
		la, lb := at25k(a.Latency), at25k(b.Latency)
		lat := "—"
		if la != nil && lb != nil {
			lat = ratio(la.Latency.P50, lb.Latency.P50) + " / " + ratio(la.Latency.P99, lb.Latency.P99)
		}
		fmt.Fprintf(w, "| **ratio %s / %s** | %s (higher is better) | %s (lower is better) | %s (lower is better) | %s (higher is better) | |\n",
			a.Name, b.Name, ratio(float64(ra), float64(rb)), lat, ratio(a.RSSPerConnKB(), b.RSSPerConnKB()), ratio(connectRate(a), connectRate(b)))
	}
	measured := false
	for _, s := range list {
		measured = measured || s.Name == "yardstick"
	}
	if !measured {
		fmt.Fprintln(w, "| bare gorilla/websocket hub (the yardstick) | not measured | not measured | not measured | not measured | |")
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "Rate sweep, %d receivers (p50 / p99 / max in ms; lost = deliveries not arrived within the drain time; CPU = the server's and the load generator's use of their one core each; near 100 %% that side is the limit):\n\n", clients)
	fmt.Fprint(w, "| offered deliveries/s |")
	for _, s := range list {
		fmt.Fprintf(w, " %s achieved/s | %s p50 / p99 / max | %s lost | CPU server / bench |", s.Name, s.Name, s.Name)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "|---|")
	for range list {
		fmt.Fprint(w, "---|---|---|---|")
	}
	fmt.Fprintln(w)
	for _, rate := range offeredRates(list) {
		fmt.Fprintf(w, "| %d |", rate)
		for _, s := range list {
			st := stepAt(s.Sweep, rate)
			if st == nil {
				fmt.Fprint(w, " — | — | — | — |")
				continue
			}
			server := "—"
			if pct, ok := st.WatchedCPUPct["server"]; ok {
				server = fmt.Sprintf("%.0f %%", pct)
			}
			fmt.Fprintf(w, " %.0f | %.1f / %.1f / %.1f | %d | %s / %.0f %% |", st.Achieved, st.Latency.P50, st.Latency.P99, st.Latency.Max, st.Lost, server, st.BenchCPUPct)
		}
		fmt.Fprintln(w)
	}
	for _, s := range list {
		if s.Sweep != nil && s.Sweep.StoppedEarly != "" {
			fmt.Fprintf(w, "\n%s: sweep stopped early: %s.\n", s.Name, s.Sweep.StoppedEarly)
		}
	}
}

func sustainedOf(s *Server) (int, bool) {
	if s.Sweep == nil {
		return 0, true
	}
	return Sustained(s.Sweep.Steps)
}

func sustainedCell(s *Server) string {
	if s.Sweep == nil || len(s.Sweep.Steps) == 0 {
		return "not measured"
	}
	r, bounded := Sustained(s.Sweep.Steps)
	switch {
	case r == 0:
		return fmt.Sprintf("< %d", s.Sweep.Steps[0].Offered)
	case !bounded:
		return fmt.Sprintf("≥ %d (highest rate tried)", r)
	}
	return strconv.Itoa(r)
}

func latencyCell(s *Server) string {
	st := at25k(s.Latency)
	if st == nil {
		return "not measured"
	}
	cell := fmt.Sprintf("%.1f ms / %.1f ms", st.Latency.P50, st.Latency.P99)
	if st.Lost > 0 {
		cell += fmt.Sprintf(" (%d lost)", st.Lost)
	}
	return cell
}

// rssCell shows the median of the idle runs, with their range when there
// are several.
func rssCell(runs []float64) string {
	if len(runs) == 0 {
		return "not measured"
	}
	if len(runs) == 1 {
		return fmt.Sprintf("%.1f KB", runs[0])
	}
	return fmt.Sprintf("%.1f KB (%d runs: %.1f–%.1f)", median(runs), len(runs), slices.Min(runs), slices.Max(runs))
}

func connectRate(s *Server) float64 {
	if s.Connect == nil || s.Connect.Connect == nil {
		return math.NaN()
	}
	return s.Connect.Connect.PerSecond
}

func connectCell(s *Server) string {
	if s.Connect == nil || s.Connect.Connect == nil {
		return "not measured"
	}
	c := s.Connect.Connect
	cell := fmt.Sprintf("%.0f", c.PerSecond)
	if c.Errors > 0 {
		cell += fmt.Sprintf(" (%d errors)", c.Errors)
	}
	return cell
}

func orderCell(s *Server) string {
	if s.Sweep == nil || len(s.Sweep.Steps) == 0 {
		return "not measured"
	}
	for _, st := range s.Sweep.Steps {
		if !st.KeyOrderKept {
			return "no"
		}
	}
	return "yes"
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 || a == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// offeredRates is the union of the sweep rates, ascending.
func offeredRates(list []*Server) []int {
	seen := map[int]bool{}
	var out []int
	for _, s := range list {
		if s.Sweep == nil {
			continue
		}
		for _, st := range s.Sweep.Steps {
			if !seen[st.Offered] {
				seen[st.Offered] = true
				out = append(out, st.Offered)
			}
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
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
