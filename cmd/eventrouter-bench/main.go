// Command eventrouter-bench is a load generator for Socket.IO v4 servers.
// It speaks Engine.IO v4 / Socket.IO v5 over raw websockets, so it measures
// the server rather than a client library, and runs against any Socket.IO
// server on this machine (only loopback targets are accepted).
//
// Three modes:
//
//	eventrouter-bench --clients 1000 --rates 5000,10000,25000 --step-duration 10s
//	    Rate sweep: N receivers and --senders senders connect; the senders
//	    emit send_message at messages/s = offered deliveries/s ÷ receivers,
//	    each step for --step-duration, and every receiver measures the
//	    latency of each receive_message from the send time embedded in the
//	    payload. After each step the bench waits up to --drain for the
//	    deliveries still in flight; whatever has not arrived is lost.
//
//	    With --receiver-urls the receivers are spread round robin over
//	    several servers (say, the nodes of a cluster) while the senders stay
//	    on --url, and each step is also reported per receiver URL.
//	    --watch-pids reports the CPU use of other processes (the servers,
//	    their Redis) per step.
//
//	eventrouter-bench --idle 10000 --hold 20s
//	    Holds N idle connections (answering pings) for the hold time and
//	    prints "HOLDING n=…" on stderr once they are all up, so a script can
//	    measure the server's memory meanwhile.
//
//	eventrouter-bench --connect-rate --clients 10000
//	    Connects N clients (at most --dial-concurrency handshakes in flight)
//	    and reports connects/s and the handshake latency distribution.
//
// Every run is bounded: in clients, rates, durations and a --timeout for
// the whole run. --json prints the result as JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Bounds on what one run may ask for.
const (
	maxClients    = 60000
	maxSenders    = 100
	maxRate       = 5_000_000
	maxStep       = 10 * time.Minute
	maxHold       = time.Hour
	maxPayload    = 64 << 10
	maxSamples    = 30_000_000 // per step: 240 MB of int64 latencies
	maxRunTimeout = 2 * time.Hour
)

// options are the command-line flags.
type options struct {
	url          string
	clients      int
	senders      int
	rates        string
	stepDuration time.Duration
	warmup       time.Duration
	drain        time.Duration
	payloadBytes int
	stopP99      time.Duration
	idle         int
	hold         time.Duration
	connectRate  bool
	dialConc     int
	sendEvent    string
	recvEvent    string
	jsonOut      bool
	timeout      time.Duration
	cpuProfile   string
	receiverURLs string
	watchPIDs    string

	// set by validate
	groups  *ReceiverGroups // where the receivers connect
	watched []Watched       // processes whose CPU use each step reports
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses flags, runs the selected mode and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("eventrouter-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:3000", "server URL (loopback only); /socket.io/ is appended when no path is given")
	fs.IntVar(&o.clients, "clients", 1000, "receivers (sweep) or clients to connect (--connect-rate)")
	fs.IntVar(&o.senders, "senders", 1, "sending connections (sweep)")
	fs.StringVar(&o.rates, "rates", "5000,10000,25000,50000,75000,100000,150000,200000", "offered deliveries/s per step (= messages/s × clients); k and m suffixes allowed")
	fs.DurationVar(&o.stepDuration, "step-duration", 10*time.Second, "sending time of each step")
	fs.DurationVar(&o.warmup, "warmup", 0, "unreported warm-up at the first rate before the steps")
	fs.DurationVar(&o.drain, "drain", 3*time.Second, "after a step, how long to wait for deliveries in flight before counting them lost")
	fs.IntVar(&o.payloadBytes, "payload-bytes", 100, "size of the JSON payload of each message")
	fs.DurationVar(&o.stopP99, "stop-p99", time.Second, "end the sweep after a step whose p99 exceeds this, or which loses over 10% (0: never)")
	fs.IntVar(&o.idle, "idle", 0, "idle mode: hold this many idle connections")
	fs.DurationVar(&o.hold, "hold", 10*time.Second, "idle mode: how long to hold the connections once all are up")
	fs.BoolVar(&o.connectRate, "connect-rate", false, "connect-rate mode: connect --clients clients and report connects/s")
	fs.IntVar(&o.dialConc, "dial-concurrency", 256, "maximum handshakes in flight while connecting")
	fs.StringVar(&o.sendEvent, "send-event", "send_message", "event the senders emit")
	fs.StringVar(&o.recvEvent, "recv-event", "receive_message", "event the receivers expect")
	fs.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "hard limit on the whole run")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the bench's own CPU profile to this file")
	fs.StringVar(&o.receiverURLs, "receiver-urls", "", "sweep: comma-separated server URLs the receivers connect to, round robin (default: --url); the senders stay on --url and each step is also reported per receiver URL")
	fs.StringVar(&o.watchPIDs, "watch-pids", "", "sweep: comma-separated name=pid processes whose CPU use (from /proc/PID/stat) each step reports")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "eventrouter-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	wsURL, rates, err := o.validate()
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter-bench: %v\n", err)
		return 2
	}
	if lim, err := raiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "eventrouter-bench: raising the open-file limit: %v (limit %d)\n", err, lim)
	} else if need := o.clients + o.senders + o.idle + 64; lim < uint64(need) {
		fmt.Fprintf(stderr, "eventrouter-bench: warning: open-file limit %d is below the %d connections asked for\n", lim, need)
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "eventrouter-bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "eventrouter-bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	res := &Result{
		Tool:         "eventrouter-bench",
		URL:          wsURL,
		Started:      time.Now().UTC().Format(time.RFC3339),
		GoVersion:    runtime.Version(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		PayloadBytes: o.payloadBytes,
	}
	h := &hub{recvPrefix: []byte(`["` + o.recvEvent + `"`)}
	dialer := &websocket.Dialer{
		HandshakeTimeout: 15 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  2048,
	}
	if o.idle == 0 && !o.connectRate {
		// receivers under load: take many queued frames per read syscall,
		// which is most of the bench's own cost per delivery
		dialer.ReadBufferSize = 16 << 10
	}
	switch {
	case o.idle > 0:
		res.Mode = "idle"
		runIdle(ctx, h, dialer, wsURL, o, res, stderr)
	case o.connectRate:
		res.Mode = "connect"
		runConnect(ctx, h, dialer, wsURL, o, res)
	default:
		res.Mode = "sweep"
		runSweep(ctx, h, dialer, wsURL, o, rates, res, stderr)
	}
	res.Disconnects = h.disconnects.Load()
	res.BadFrames = h.badFrames.Load()
	res.Errors = h.errList()
	res.Finished = time.Now().UTC().Format(time.RFC3339)

	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "eventrouter-bench: %v\n", err)
			return 1
		}
	} else {
		res.WriteText(stdout)
	}
	if res.Connect != nil && res.Connect.Connected == 0 {
		return 1
	}
	return 0
}

// validate checks the options against the bounds and returns the
// websocket URL and the parsed rates.
func (o *options) validate() (string, []int, error) {
	wsURL, err := SocketURL(o.url)
	if err != nil {
		return "", nil, err
	}
	rates, err := ParseRates(o.rates, maxRate)
	if err != nil {
		return "", nil, err
	}
	switch {
	case o.clients < 1 || o.clients > maxClients:
		return "", nil, fmt.Errorf("--clients must be 1..%d", maxClients)
	case o.senders < 1 || o.senders > maxSenders:
		return "", nil, fmt.Errorf("--senders must be 1..%d", maxSenders)
	case o.idle < 0 || o.idle > maxClients:
		return "", nil, fmt.Errorf("--idle must be 0..%d", maxClients)
	case o.stepDuration <= 0 || o.stepDuration > maxStep:
		return "", nil, fmt.Errorf("--step-duration must be in (0, %v]", maxStep)
	case o.warmup < 0 || o.warmup > maxStep:
		return "", nil, fmt.Errorf("--warmup must be in [0, %v]", maxStep)
	case o.drain < 0 || o.drain > maxStep:
		return "", nil, fmt.Errorf("--drain must be in [0, %v]", maxStep)
	case o.hold < 0 || o.hold > maxHold:
		return "", nil, fmt.Errorf("--hold must be in [0, %v]", maxHold)
	case o.payloadBytes < 0 || o.payloadBytes > maxPayload:
		return "", nil, fmt.Errorf("--payload-bytes must be 0..%d", maxPayload)
	case o.dialConc < 1 || o.dialConc > maxClients:
		return "", nil, fmt.Errorf("--dial-concurrency must be 1..%d", maxClients)
	case o.timeout <= 0 || o.timeout > maxRunTimeout:
		return "", nil, fmt.Errorf("--timeout must be in (0, %v]", maxRunTimeout)
	case o.sendEvent == "" || o.recvEvent == "" || strings.ContainsAny(o.sendEvent+o.recvEvent, `"\`):
		return "", nil, errors.New("event names must be non-empty and hold no quote or backslash")
	}
	if (o.receiverURLs != "" || o.watchPIDs != "") && (o.idle > 0 || o.connectRate) {
		return "", nil, errors.New("--receiver-urls and --watch-pids apply to the sweep only")
	}
	if o.groups, err = ParseReceiverURLs(o.receiverURLs, wsURL); err != nil {
		return "", nil, err
	}
	if o.watched, err = ParseWatched(o.watchPIDs); err != nil {
		return "", nil, err
	}
	for _, r := range rates {
		if n := float64(r) * o.stepDuration.Seconds(); n > maxSamples {
			return "", nil, fmt.Errorf("rate %d × %v = %.0f deliveries in one step, over the %d limit", r, o.stepDuration, n, maxSamples)
		}
	}
	return wsURL, rates, nil
}

// runIdle holds o.idle idle connections for o.hold.
func runIdle(ctx context.Context, h *hub, d *websocket.Dialer, url string, o options, res *Result, stderr io.Writer) {
	clients, cs := h.connectAll(ctx, d, o.idle, o.dialConc, func(int) dialSpec { return dialSpec{url: url, role: roleIdle} })
	res.Connect = &cs
	fmt.Fprintf(stderr, "HOLDING n=%d errors=%d hold=%v\n", cs.Connected, cs.Errors, o.hold)
	t0 := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(o.hold):
	}
	res.Idle = &IdleResult{Requested: o.idle, Held: cs.Connected - int(h.disconnects.Load()), HoldSeconds: time.Since(t0).Seconds()}
	h.closeAll(clients)
}

// runConnect measures how fast o.clients clients connect.
func runConnect(ctx context.Context, h *hub, d *websocket.Dialer, url string, o options, res *Result) {
	clients, cs := h.connectAll(ctx, d, o.clients, o.dialConc, func(int) dialSpec { return dialSpec{url: url, role: roleIdle} })
	res.Connect = &cs
	h.closeAll(clients)
}
