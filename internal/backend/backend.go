// Package backend delivers JSON to the HTTP backends of the config: signed
// POSTs, asynchronous from bounded queues with retries (webhook), or
// synchronous (forward). It knows nothing of rules or sockets.
//
// The queues belong to a Dispatcher that outlives config reloads: a
// delivery carries the backend's settings as they were when it was queued,
// so a reload never drops or alters one; Close drains what is queued until
// its context ends.
package backend

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/rules"
)

// The headers every request carries.
const (
	HeaderDelivery  = "X-Eventrouter-Delivery"
	HeaderSignature = "X-Eventrouter-Signature"
)

// The outcomes a Dispatcher reports for webhook deliveries.
const (
	Delivered = "delivered" // a 2xx answered it
	Retried   = "retried"   // one attempt failed and another follows
	Failed    = "failed"    // a 4xx, or the last retry failed
	Dropped   = "dropped"   // the queue was full, or the dispatcher closed
)

// MaxResponse bounds the response body read from a backend.
const MaxResponse = 1 << 20

// Sign returns the X-Eventrouter-Signature value of body at t:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks an X-Eventrouter-Signature header against body, and that
// its time is within tolerance of now (any time when tolerance is 0).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, v1 string
	for _, part := range bytes.Split([]byte(header), []byte(",")) {
		k, v, _ := bytes.Cut(part, []byte("="))
		switch string(k) {
		case "t":
			ts = string(v)
		case "v1":
			v1 = string(v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || v1 == "" {
		return errors.New("verify signature: malformed header")
	}
	got, err := hex.DecodeString(v1)
	if err != nil {
		return errors.New("verify signature: v1 is not hex")
	}
	if !hmac.Equal(got, mac(secret, ts, body)) {
		return errors.New("verify signature: mismatch")
	}
	if d := now.Sub(time.Unix(sec, 0)); tolerance > 0 && (d > tolerance || d < -tolerance) {
		return fmt.Errorf("verify signature: timestamp off by %s", d.Round(time.Second))
	}
	return nil
}

// NewID returns a unique delivery id.
func NewID() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// Options tune a Dispatcher.
type Options struct {
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
	// Backoff returns the wait before retry n (1, 2, …); nil means
	// exponential from 200ms, capped at 30s, with full jitter.
	Backoff func(n int) time.Duration
	// Outcome is told of every webhook outcome (see Delivered…); it must
	// not block. err is the attempt's error for Retried and Failed.
	Outcome func(backend, outcome string, err error)
	// Workers is the number of goroutines sending one backend's queue;
	// 0 means 4.
	Workers int
}

// DefaultBackoff waits 200ms·2^(n-1), at most 30s, with full jitter.
func DefaultBackoff(n int) time.Duration {
	d := 200 * time.Millisecond << min(n-1, 8)
	d = min(d, 30*time.Second)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// Dispatcher owns one bounded queue and its workers per backend name.
type Dispatcher struct {
	opts   Options
	ctx    context.Context // ends the workers' waits when Close gives up
	cancel context.CancelFunc

	mu     sync.Mutex
	queues map[string]chan delivery
	closed bool
	wg     sync.WaitGroup
}

// delivery is one queued webhook request.
type delivery struct {
	b    rules.Backend
	id   string
	body []byte
}

// NewDispatcher returns a dispatcher with no queues yet; each backend's is
// made on its first delivery.
func NewDispatcher(opts Options) *Dispatcher {
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.Outcome == nil {
		opts.Outcome = func(string, string, error) {}
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{opts: opts, ctx: ctx, cancel: cancel, queues: map[string]chan delivery{}}
}

// Enqueue queues body for b and returns its delivery id at once. A full
// queue, or a closed dispatcher, drops it: the outcome is Dropped and the
// returned error says why. The queue's size is b.Queue when it is first
// made; a reload that changes it applies after a restart.
func (d *Dispatcher) Enqueue(b rules.Backend, body []byte) (string, error) {
	id := NewID()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.opts.Outcome(b.Name, Dropped, nil)
		return id, errors.New("webhook: the daemon is stopping")
	}
	q, ok := d.queues[b.Name]
	if !ok {
		q = make(chan delivery, b.Queue)
		d.queues[b.Name] = q
		for range d.opts.Workers {
			d.wg.Add(1)
			go d.work(q)
		}
	}
	select {
	case q <- delivery{b: b, id: id, body: body}:
		return id, nil
	default:
		d.opts.Outcome(b.Name, Dropped, nil)
		return id, ErrQueueFull
	}
}

// ErrQueueFull is Enqueue's error for a backend whose queue is full.
var ErrQueueFull = errors.New("webhook: the backend's queue is full")

// Close stops accepting deliveries and waits until the queued ones are
// sent (or have failed), or ctx ends: then the ones left are abandoned
// and counted Dropped, and Close returns ctx's error.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		for _, q := range d.queues {
			close(q)
		}
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return fmt.Errorf("drain webhook queues: %w", ctx.Err())
	}
}

// work sends q's deliveries until q is closed and empty.
func (d *Dispatcher) work(q chan delivery) {
	defer d.wg.Done()
	for dl := range q {
		if d.ctx.Err() != nil {
			d.opts.Outcome(dl.b.Name, Dropped, nil)
			continue
		}
		d.deliver(dl)
	}
}

// deliver sends one delivery, retrying network errors and 5xx.
func (d *Dispatcher) deliver(dl delivery) {
	for attempt := 0; ; attempt++ {
		status, _, _, err := Call(d.ctx, d.opts.Client, dl.b, dl.id, dl.body)
		if err == nil && status >= 200 && status < 300 {
			d.opts.Outcome(dl.b.Name, Delivered, nil)
			return
		}
		if err == nil {
			err = fmt.Errorf("webhook %s: status %d", dl.b.Name, status)
		}
		retryable := status == 0 || status >= 500
		if !retryable || attempt >= dl.b.Retries || d.ctx.Err() != nil {
			d.opts.Outcome(dl.b.Name, Failed, err)
			return
		}
		d.opts.Outcome(dl.b.Name, Retried, err)
		t := time.NewTimer(d.opts.Backoff(attempt + 1))
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
			d.opts.Outcome(dl.b.Name, Failed, err)
			return
		}
	}
}

// Call POSTs body to b once, within b.Timeout, signed when b has a
// secret, and returns the status, up to MaxResponse bytes of the response
// and its headers. A status of 0 goes with a network error.
func Call(ctx context.Context, client *http.Client, b rules.Backend, id string, body []byte) (int, []byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("backend %s: build request: %w", b.Name, err)
	}
	for k, v := range b.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderDelivery, id)
	if b.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(b.Secret, time.Now(), body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("backend %s: %w", b.Name, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("backend %s: read response: %w", b.Name, err)
	}
	return resp.StatusCode, out, resp.Header, nil
}
