package engine

import (
	"sync"
	"time"
)

// wheel drives every connection's heartbeat from one goroutine: a hashed
// timing wheel of slots one tick wide. A connection is due at one instant
// (send the next ping, or give up waiting for the pong) and sits in that
// instant's slot; rescheduling appends it to another slot and bumps its
// generation, so the stale entry is skipped when its slot comes round.
// An idle connection costs one 16-byte entry and no goroutine or
// runtime timer.
type wheel struct {
	tick     time.Duration
	interval time.Duration // ping interval
	timeout  time.Duration // ping timeout
	fire     func(ping, timedOut []*Conn)

	mu    sync.Mutex
	slots [][]entry
	start time.Time
	done  int64 // ticks processed
	stop  chan struct{}
}

type entry struct {
	c   *Conn
	gen uint32
}

// heartbeat is a connection's place in the wheel, guarded by wheel.mu.
type heartbeat struct {
	next     int64  // when the next ping is due, or the pong, in wheel ns (exact, not rounded to a tick)
	gen      uint32 // bumped on every reschedule and on close
	awaiting bool   // a ping went out; the pong has not come
}

// newWheel starts the wheel's goroutine; fire is called from it, outside
// the wheel's lock, with the connections due to be pinged and those whose
// pong did not come in time.
func newWheel(interval, timeout time.Duration, fire func(ping, timedOut []*Conn)) *wheel {
	tick := min(interval, timeout) / 16
	tick = max(tick, time.Millisecond)
	tick = min(tick, 250*time.Millisecond)
	n := int(max(interval, timeout)/tick) + 3
	w := &wheel{tick: tick, interval: interval, timeout: timeout, fire: fire, slots: make([][]entry, n), start: time.Now(), stop: make(chan struct{})}
	go w.run()
	return w
}

// now is the wheel's clock: nanoseconds since it started.
func (w *wheel) now() int64 { return int64(time.Since(w.start)) }

// scheduleLocked puts c in the slot for now+d; w.mu must be held.
func (w *wheel) scheduleLocked(c *Conn, d time.Duration) {
	w.scheduleAtLocked(c, w.now()+int64(d))
}

// scheduleAtLocked puts c in the slot for at (wheel ns); w.mu must be held.
func (w *wheel) scheduleAtLocked(c *Conn, at int64) {
	c.hb.gen++
	c.hb.next = at
	k := (at + int64(w.tick) - 1) / int64(w.tick)
	// Keep within one turn of the ring: a wheel running late by more
	// than a turn fires early rather than a turn late.
	k = min(max(k, w.done+1), w.done+int64(len(w.slots))-1)
	i := int(k % int64(len(w.slots)))
	w.slots[i] = append(w.slots[i], entry{c: c, gen: c.hb.gen})
}

// open schedules c's first ping one interval from now.
func (w *wheel) open(c *Conn) {
	w.mu.Lock()
	c.hb.awaiting = false
	w.scheduleLocked(c, w.interval)
	w.mu.Unlock()
}

// pong records c's answer to a ping and schedules its next ping; a pong
// nobody asked for is ignored.
func (w *wheel) pong(c *Conn) {
	w.mu.Lock()
	if c.hb.awaiting {
		c.hb.awaiting = false
		w.scheduleLocked(c, w.interval)
	}
	w.mu.Unlock()
}

// expired reports whether c's heartbeat ran out by now even if its slot
// has not come round yet (ticks fire up to one tick late): a request that
// arrives then must find the session closed, as with exact timers.
func (w *wheel) expired(c *Conn) bool {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.hb.awaiting {
		return now >= c.hb.next
	}
	return now >= c.hb.next+int64(w.timeout)
}

// remove takes c out of the wheel: its entries are skipped from now on
// and dropped when their slot comes round.
func (w *wheel) remove(c *Conn) {
	w.mu.Lock()
	c.hb.gen++
	c.hb.awaiting = false
	w.mu.Unlock()
}

// close stops the wheel's goroutine.
func (w *wheel) close() { close(w.stop) }

func (w *wheel) run() {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case now := <-t.C:
			w.advance(now)
		}
	}
}

// advance processes every slot up to now.
func (w *wheel) advance(now time.Time) {
	var ping, timedOut []*Conn
	w.mu.Lock()
	until := int64(now.Sub(w.start) / w.tick)
	for w.done < until {
		w.done++
		i := int(w.done % int64(len(w.slots)))
		slot := w.slots[i]
		w.slots[i] = nil
		for _, e := range slot {
			if e.gen != e.c.hb.gen {
				continue // rescheduled or closed since
			}
			if e.c.hb.awaiting {
				// Timed out: the entry is dropped, and expired reports
				// it until the connection is closed (on another
				// goroutine) and removed.
				e.c.hb.gen++
				e.c.hb.next = 0
				timedOut = append(timedOut, e.c)
				continue
			}
			// The pong is due a timeout after the ping was due, not
			// after the tick that sent it: a late tick does not give
			// the client longer.
			e.c.hb.awaiting = true
			w.scheduleAtLocked(e.c, e.c.hb.next+int64(w.timeout))
			ping = append(ping, e.c)
		}
		if len(w.slots[i]) == 0 && cap(slot) <= 64 {
			w.slots[i] = slot[:0] // reuse small slices; large ones go to the collector
			clear(slot[:cap(slot)])
		}
	}
	w.mu.Unlock()
	if len(ping) > 0 || len(timedOut) > 0 {
		w.fire(ping, timedOut)
	}
}
