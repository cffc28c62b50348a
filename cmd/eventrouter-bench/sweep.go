package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// runSweep connects the receivers and senders, then runs one step per rate.
func runSweep(ctx context.Context, h *hub, d *websocket.Dialer, url string, o options, rates []int, res *Result, stderr io.Writer) {
	res.Clients, res.Senders = o.clients, o.senders
	n := o.clients + o.senders
	all, cs := h.connectAll(ctx, d, n, o.dialConc, func(i int) dialSpec {
		if i < o.senders {
			return dialSpec{url: url, role: roleSender}
		}
		g := o.groups.GroupOf(i - o.senders)
		return dialSpec{url: o.groups.URLs[g], role: roleReceiver, group: g}
	})
	res.Connect = &cs
	defer h.closeAll(all)

	var senders, receivers []*client
	for _, c := range all {
		if c.role == roleSender {
			senders = append(senders, c)
		} else {
			receivers = append(receivers, c)
		}
	}
	if len(senders) == 0 || len(receivers) == 0 {
		h.noteErr(fmt.Errorf("sweep needs senders and receivers: %d and %d connected", len(senders), len(receivers)))
		return
	}
	fmt.Fprintf(stderr, "connected %d receivers + %d senders in %.2fs (%.0f/s, %d errors)\n",
		len(receivers), len(senders), cs.Seconds, cs.PerSecond, cs.Errors)
	var groupURLs []string // nil: no per-group report
	if o.receiverURLs != "" {
		groupURLs = o.groups.URLs
		req := o.groups.Counts(o.clients)
		for g, u := range groupURLs {
			gi := GroupInfo{URL: u, Requested: req[g]}
			for _, c := range receivers {
				if c.group == g {
					gi.Connected++
				}
			}
			res.ReceiverGroups = append(res.ReceiverGroups, gi)
			fmt.Fprintf(stderr, "receivers on %s: %d of %d\n", u, gi.Connected, gi.Requested)
		}
	}
	sp := stepParams{drain: o.drain, event: o.sendEvent, groups: groupURLs, watched: o.watched}

	pad := PadFor(o.payloadBytes)
	var seq atomic.Uint64
	if o.warmup > 0 && ctx.Err() == nil {
		fmt.Fprintf(stderr, "warm-up at %d deliveries/s for %v\n", rates[0], o.warmup)
		runStep(ctx, h, senders, receivers, rates[0], o.warmup, sp, pad, &seq)
	}
	for i, rate := range rates {
		if ctx.Err() != nil {
			break
		}
		sr := runStep(ctx, h, senders, receivers, rate, o.stepDuration, sp, pad, &seq)
		res.Steps = append(res.Steps, sr)
		fmt.Fprintf(stderr, "step %d/%d: offered %d/s achieved %.0f/s p50 %.2fms p99 %.2fms max %.2fms lost %d (bench CPU %.0f%%, send lag %.1fms)\n",
			i+1, len(rates), sr.Offered, sr.Achieved, sr.Latency.P50, sr.Latency.P99, sr.Latency.Max, sr.Lost, sr.BenchCPUPct, sr.SendLagMaxMs)
		for _, g := range sr.Groups {
			fmt.Fprintf(stderr, "  %s: %d receivers, offered %d/s achieved %.0f/s p50 %.2fms p99 %.2fms max %.2fms lost %d\n",
				g.URL, g.Receivers, g.Offered, g.Achieved, g.Latency.P50, g.Latency.P99, g.Latency.Max, g.Lost)
		}
		if len(sr.WatchedCPUPct) > 0 {
			fmt.Fprintf(stderr, "  CPU: %s\n", FormatCPU(sr.WatchedCPUPct))
		}
		if o.stopP99 > 0 && (sr.Latency.P99 > float64(o.stopP99)/1e6 || sr.LostFraction > 0.10) {
			res.StoppedEarly = fmt.Sprintf("step at %d deliveries/s exceeded --stop-p99 %v or lost over 10%%", rate, o.stopP99)
			break
		}
	}
}

// stepParams are the parts of a step that stay the same over a sweep.
type stepParams struct {
	drain   time.Duration // wait for deliveries in flight after sending
	event   string        // the event the senders emit
	groups  []string      // receiver group URLs; nil: no per-group report
	watched []Watched     // processes whose CPU use to report
}

// runStep sends at rate deliveries/s for dur, waits up to drain for the
// deliveries in flight, and summarises them.
func runStep(ctx context.Context, h *hub, senders, receivers []*client, rate int, dur time.Duration, sp stepParams, pad string, seq *atomic.Uint64) StepResult {
	drain, event := sp.drain, sp.event
	msgRate := MessageRate(rate, len(receivers))
	st := &step{firstSeq: seq.Load() + 1}
	if len(sp.groups) > 0 {
		st.groups = make([]groupCount, len(sp.groups))
	}
	for _, c := range receivers {
		c.take() // drop anything recorded since the previous step
	}
	h.cur.Store(st)
	disc0 := h.disconnects.Load()

	watch0 := make([]time.Duration, len(sp.watched))
	for i, w := range sp.watched {
		var err error
		if watch0[i], err = procCPU(w.PID); err != nil {
			h.noteErr(fmt.Errorf("--watch-pids %s: %w", w.Name, err))
			watch0[i] = -1
		}
	}
	cpu0, wall0 := cpuTime(), time.Now()
	start := time.Now().Add(5 * time.Millisecond)
	var wg sync.WaitGroup
	var sent, sendErrs atomic.Int64
	var lagMax atomic.Int64
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, errs, lag := paceSender(ctx, s, i, len(senders), msgRate, start, dur, event, pad, seq)
			sent.Add(n)
			sendErrs.Add(errs)
			for {
				old := lagMax.Load()
				if int64(lag) <= old || lagMax.CompareAndSwap(old, int64(lag)) {
					break
				}
			}
		}()
	}
	wg.Wait()
	sendEnd := time.Now()

	expected := sent.Load() * int64(len(receivers))
	deadline := sendEnd.Add(drain)
	for st.received.Load() < expected && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	h.cur.Store(nil)
	var samples []int64
	var groupSamples [][]int64
	if len(sp.groups) > 0 {
		groupSamples = make([][]int64, len(sp.groups))
		for _, c := range receivers {
			groupSamples[c.group] = append(groupSamples[c.group], c.take()...)
		}
		samples = slices.Concat(groupSamples...)
	} else {
		for _, c := range receivers {
			samples = append(samples, c.take()...)
		}
	}
	received := int64(len(samples))
	wall := time.Since(wall0)
	cpuPct := float64(cpuTime()-cpu0) / float64(wall) * 100
	var watched map[string]float64
	for i, w := range sp.watched {
		if watch0[i] < 0 {
			continue
		}
		t, err := procCPU(w.PID)
		if err != nil {
			h.noteErr(fmt.Errorf("--watch-pids %s: %w", w.Name, err))
			continue
		}
		if watched == nil {
			watched = map[string]float64{}
		}
		watched[w.Name] = math.Round(float64(t-watch0[i])/float64(wall)*1000) / 10
	}
	// deliveries per second over the time they took to arrive: from the
	// first send to the last delivery, and never less than the step
	active := max(dur, time.Duration(st.lastRecv.Load()-start.UnixNano()), sendEnd.Sub(start))
	sr := StepResult{
		Offered:        rate,
		MessagesPerSec: math.Round(msgRate*100) / 100,
		Seconds:        math.Round(active.Seconds()*1000) / 1000,
		Messages:       sent.Load(),
		Expected:       expected,
		Received:       received,
		Lost:           Lost(expected, received),
		Achieved:       PerSecond(received, active),
		KeyOrderKept:   st.disorder.Load() == 0 && received > 0,
		SendErrors:     sendErrs.Load(),
		SendLagMaxMs:   float64(time.Duration(lagMax.Load()).Microseconds()) / 1e3,
		Disconnects:    h.disconnects.Load() - disc0,
		Latency:        Summarize(samples),
		BenchCPUPct:    math.Round(cpuPct*10) / 10,
		WatchedCPUPct:  watched,
	}
	if expected > 0 {
		sr.LostFraction = math.Round(float64(sr.Lost)/float64(expected)*1e6) / 1e6
	}
	for g, u := range sp.groups {
		n := 0
		for _, c := range receivers {
			if c.group == g {
				n++
			}
		}
		gc := &st.groups[g]
		gs := GroupStep{
			URL:          u,
			Receivers:    n,
			Offered:      int(math.Round(msgRate * float64(n))),
			Expected:     sent.Load() * int64(n),
			Received:     int64(len(groupSamples[g])),
			Latency:      Summarize(groupSamples[g]),
			KeyOrderKept: gc.disorder.Load() == 0 && len(groupSamples[g]) > 0,
		}
		gs.Lost = Lost(gs.Expected, gs.Received)
		if gs.Expected > 0 {
			gs.LostFraction = math.Round(float64(gs.Lost)/float64(gs.Expected)*1e6) / 1e6
		}
		gActive := max(dur, time.Duration(gc.lastRecv.Load()-start.UnixNano()), sendEnd.Sub(start))
		gs.Achieved = PerSecond(gs.Received, gActive)
		sr.Groups = append(sr.Groups, gs)
	}
	return sr
}

// paceSender emits messages on a fixed schedule: sender i of n sends at
// start + (i/n + k) / (msgRate/n) for k = 0, 1, …, strictly before
// start+dur. When it falls behind it sends at once to catch up.
//
// The embedded timestamp is the time of the write, not the scheduled time:
// Go's timers on Linux wake up to about 1 ms late, which would otherwise be
// charged to every server. A server that pushes back on the sender (full
// TCP buffers) shows up instead as SendLagMaxMs and as an achieved rate
// below the offered one. It returns the messages sent, the write errors and
// how late the sender fell behind its schedule at worst.
func paceSender(ctx context.Context, s *client, i, n int, msgRate float64, start time.Time, dur time.Duration, event, pad string, seq *atomic.Uint64) (sent, errs int64, lagMax time.Duration) {
	per := msgRate / float64(n)
	if per <= 0 {
		return 0, 0, 0
	}
	interval := time.Duration(float64(time.Second) / per)
	if interval <= 0 {
		interval = 1
	}
	offset := time.Duration(int64(interval) * int64(i) / int64(n))
	var payload, frame []byte
	for k := int64(0); ; k++ {
		at := start.Add(offset + time.Duration(k)*interval)
		if at.Sub(start) >= dur || ctx.Err() != nil {
			return sent, errs, lagMax
		}
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		} else if -wait > lagMax {
			lagMax = -wait
		}
		payload = Payload(payload[:0], seq.Add(1), time.Now().UnixNano(), pad)
		frame = EncodeEvent(frame[:0], event, payload)
		if err := s.write(frame); err != nil {
			errs++
			if errs == 1 {
				// the hub reports only the first few; a broken sender
				// would otherwise spin, so stop this step for it
				return sent, errs, lagMax
			}
		}
		sent++
	}
}
