package adminui

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login attempts are throttled per client address before the password is
// checked: bcrypt is slow on purpose, so without a bound a client could
// both guess passwords and keep a core busy. Each address may try
// loginBurst passwords at once, then one every loginEvery. A login with
// a valid session id costs nothing and is never throttled.
const (
	loginBurst = 10
	loginEvery = 6 * time.Second
	// maxThrottled bounds the addresses remembered; past it, those whose
	// bucket has refilled are forgotten.
	maxThrottled = 10000
)

// tooManyAttempts is the connect_error message of a throttled login.
const tooManyAttempts = "too many login attempts, try again later"

// loginThrottle holds a token bucket per client address.
type loginThrottle struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{buckets: map[string]*rate.Limiter{}}
}

// allow reports whether addr may check a password at now, and spends one
// attempt if so.
func (l *loginThrottle) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxThrottled {
			l.forgetRefilled(now)
		}
		b = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
		l.buckets[addr] = b
	}
	return b.AllowN(now, 1)
}

// forgetRefilled drops the buckets that are full again: forgetting them
// changes nothing for their addresses.
func (l *loginThrottle) forgetRefilled(now time.Time) {
	for addr, b := range l.buckets {
		if b.TokensAt(now) >= loginBurst {
			delete(l.buckets, addr)
		}
	}
}
