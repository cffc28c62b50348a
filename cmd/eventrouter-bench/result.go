package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Result is everything one run reports; it is what --json prints.
type Result struct {
	// Tool names the program that produced the result.
	Tool string `json:"tool"`
	// Mode is "sweep", "idle" or "connect".
	Mode string `json:"mode"`
	// URL is the websocket URL the clients connected to.
	URL string `json:"url"`
	// Started and Finished are RFC 3339 UTC times.
	Started string `json:"started"`
	// Finished is when the run ended.
	Finished string `json:"finished"`
	// GoVersion is the bench's Go runtime version.
	GoVersion string `json:"go_version"`
	// GOMAXPROCS is the bench's GOMAXPROCS (1 when pinned to one CPU).
	GOMAXPROCS int `json:"gomaxprocs"`
	// Clients is the number of receivers asked for (sweep).
	Clients int `json:"clients,omitempty"`
	// Senders is the number of sending connections asked for (sweep).
	Senders int `json:"senders,omitempty"`
	// PayloadBytes is the size of each message's JSON payload.
	PayloadBytes int `json:"payload_bytes"`
	// Connect reports how the connections were established.
	Connect *ConnectStats `json:"connect,omitempty"`
	// ReceiverGroups are the servers the receivers were spread over
	// (--receiver-urls); absent without that flag.
	ReceiverGroups []GroupInfo `json:"receiver_groups,omitempty"`
	// Steps are the sweep's steps, in order.
	Steps []StepResult `json:"steps,omitempty"`
	// StoppedEarly says why the sweep ended before its last rate.
	StoppedEarly string `json:"stopped_early,omitempty"`
	// Idle reports the idle mode's hold.
	Idle *IdleResult `json:"idle,omitempty"`
	// Disconnects counts connections the server dropped during the run.
	Disconnects int64 `json:"disconnects"`
	// BadFrames counts frames that did not decode.
	BadFrames int64 `json:"bad_frames"`
	// Errors holds the first distinct errors.
	Errors []string `json:"errors,omitempty"`
}

// StepResult is one step of a rate sweep.
type StepResult struct {
	// Offered is the offered deliveries/s (messages/s × receivers).
	Offered int `json:"offered_per_s"`
	// MessagesPerSec is the rate at which the senders emitted.
	MessagesPerSec float64 `json:"messages_per_s"`
	// Seconds is how long the senders sent.
	Seconds float64 `json:"seconds"`
	// Messages is how many messages were sent.
	Messages int64 `json:"messages"`
	// Expected is Messages × receivers.
	Expected int64 `json:"expected"`
	// Received counts deliveries that arrived before the drain deadline.
	Received int64 `json:"received"`
	// Lost is Expected − Received.
	Lost int64 `json:"lost"`
	// LostFraction is Lost / Expected.
	LostFraction float64 `json:"lost_fraction"`
	// Achieved is Received / Seconds, deliveries/s.
	Achieved float64 `json:"achieved_per_s"`
	// Latency is the distribution of send-to-receive times.
	Latency Summary `json:"latency"`
	// KeyOrderKept reports whether every delivery kept the payload's key
	// order (seq, ts, pad).
	KeyOrderKept bool `json:"key_order_kept"`
	// SendErrors counts failed writes by the senders.
	SendErrors int64 `json:"send_errors"`
	// SendLagMaxMs is how far, at worst, a sender fell behind its schedule;
	// large values point at the load generator rather than the server.
	SendLagMaxMs float64 `json:"send_lag_max_ms"`
	// Disconnects counts connections lost during the step.
	Disconnects int64 `json:"disconnects"`
	// BenchCPUPct is the load generator's own CPU use over the step and its
	// drain, in percent of one core; near 100 × GOMAXPROCS the bench, not
	// the server, is the limit.
	BenchCPUPct float64 `json:"bench_cpu_pct"`
	// WatchedCPUPct is the CPU use of each --watch-pids process over the
	// step and its drain, in percent of one core, by name.
	WatchedCPUPct map[string]float64 `json:"watched_cpu_pct,omitempty"`
	// Groups splits the step by receiver URL, in the order of
	// ReceiverGroups (--receiver-urls only).
	Groups []GroupStep `json:"groups,omitempty"`
}

// GroupInfo is one server the receivers were spread over.
type GroupInfo struct {
	// URL is the websocket URL of the group's receivers.
	URL string `json:"url"`
	// Requested is how many receivers were to connect to it.
	Requested int `json:"requested"`
	// Connected is how many did.
	Connected int `json:"connected"`
}

// GroupStep is one step as seen by the receivers of one URL.
type GroupStep struct {
	// URL is the websocket URL of the group's receivers.
	URL string `json:"url"`
	// Receivers is the number of connected receivers in the group.
	Receivers int `json:"receivers"`
	// Offered is the group's share of the offered deliveries/s
	// (messages/s × the group's receivers).
	Offered int `json:"offered_per_s"`
	// Expected is messages sent × the group's receivers.
	Expected int64 `json:"expected"`
	// Received counts the group's deliveries that arrived before the drain
	// deadline.
	Received int64 `json:"received"`
	// Lost is Expected − Received.
	Lost int64 `json:"lost"`
	// LostFraction is Lost / Expected.
	LostFraction float64 `json:"lost_fraction"`
	// Achieved is Received per second, over the time from the first send
	// to the group's last delivery (at least the step).
	Achieved float64 `json:"achieved_per_s"`
	// Latency is the distribution of the group's send-to-receive times.
	Latency Summary `json:"latency"`
	// KeyOrderKept reports whether every delivery of the group kept the
	// payload's key order.
	KeyOrderKept bool `json:"key_order_kept"`
}

// IdleResult reports the idle mode.
type IdleResult struct {
	// Requested is the number of idle connections asked for.
	Requested int `json:"requested"`
	// Held is how many were still up at the end of the hold.
	Held int `json:"held"`
	// HoldSeconds is how long they were held.
	HoldSeconds float64 `json:"hold_seconds"`
}

// WriteText prints the result for people.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "eventrouter-bench %s  %s  (payload %d B, GOMAXPROCS %d)\n", r.Mode, r.URL, r.PayloadBytes, r.GOMAXPROCS)
	if c := r.Connect; c != nil {
		fmt.Fprintf(w, "connect: %d/%d in %.2fs = %.0f connects/s (%d in flight), errors %d, handshake p50 %.2fms p99 %.2fms max %.2fms\n",
			c.Connected, c.Attempted, c.Seconds, c.PerSecond, c.Concurrency, c.Errors, c.Latency.P50, c.Latency.P99, c.Latency.Max)
	}
	if r.Idle != nil {
		fmt.Fprintf(w, "idle: held %d of %d for %.1fs\n", r.Idle.Held, r.Idle.Requested, r.Idle.HoldSeconds)
	}
	if len(r.Steps) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "offered/s\tmsg/s\tachieved/s\tp50 ms\tp99 ms\tmax ms\tlost\tkey order\tsend lag ms\tbench CPU %\t")
		for _, s := range r.Steps {
			fmt.Fprintf(tw, "%d\t%.1f\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%v\t%.2f\t%.0f\t\n",
				s.Offered, s.MessagesPerSec, s.Achieved, s.Latency.P50, s.Latency.P99, s.Latency.Max, s.Lost, s.KeyOrderKept, s.SendLagMaxMs, s.BenchCPUPct)
		}
		_ = tw.Flush()
	}
	if len(r.Steps) > 0 && len(r.Steps[0].Groups) > 0 {
		fmt.Fprintln(w, "per receiver URL:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "offered/s\treceiver URL\treceivers\tgroup offered/s\tachieved/s\tp50 ms\tp99 ms\tmax ms\tlost\tkey order\t")
		for _, s := range r.Steps {
			for _, g := range s.Groups {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%v\t\n",
					s.Offered, g.URL, g.Receivers, g.Offered, g.Achieved, g.Latency.P50, g.Latency.P99, g.Latency.Max, g.Lost, g.KeyOrderKept)
			}
		}
		_ = tw.Flush()
	}
	if len(r.Steps) > 0 && len(r.Steps[0].WatchedCPUPct) > 0 {
		fmt.Fprintln(w, "CPU % of the watched processes (one core = 100):")
		for _, s := range r.Steps {
			fmt.Fprintf(w, "  %d/s: %s\n", s.Offered, FormatCPU(s.WatchedCPUPct))
		}
	}
	if r.StoppedEarly != "" {
		fmt.Fprintf(w, "stopped early: %s\n", r.StoppedEarly)
	}
	fmt.Fprintf(w, "disconnects %d, bad frames %d\n", r.Disconnects, r.BadFrames)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

// FormatCPU prints CPU percentages by name, names sorted: "a 12.0%, b 3.5%".
func FormatCPU(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.1f%%", n, m[n])
	}
	return strings.Join(parts, ", ")
}
