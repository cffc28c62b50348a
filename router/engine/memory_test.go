package engine_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"
)

// BenchmarkIdleConnection measures what an idle websocket connection
// keeps on each engine, with the Socket.IO layer bound and the client in
// the main namespace: live heap and goroutine stack per connection after
// a collection (the clients' side, a bare TCP connection each, included).
//
//	go test -run x -bench IdleConnection -benchtime 1000x ./router/engine/
func BenchmarkIdleConnection(b *testing.B) {
	for _, name := range engines {
		b.Run(name, func(b *testing.B) {
			tg := startSIOPing(&testing.T{}, name, 25*time.Second, 20*time.Second)
			u, err := url.Parse(tg.base)
			if err != nil {
				b.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			g0 := runtime.NumGoroutine()
			conns := make([]net.Conn, 0, b.N)
			for range b.N {
				conns = append(conns, idleClient(b, u))
			}
			time.Sleep(time.Second) // let the handlers finish and exit
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			n := float64(b.N)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "live-heap-B/conn")
			b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-inuse-B/conn")
			b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stack-B/conn")
			b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/conn")
			for _, c := range conns {
				_ = c.Close()
			}
		})
	}
}

// idleClient opens a websocket session, joins the main namespace and
// reads up to the "auth" event, keeping nothing but the connection.
func idleClient(b *testing.B, u *url.URL) net.Conn {
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		b.Fatal(err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(nc, "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nUser-Agent: bench\r\n\r\n",
		u.Path, u.Host, base64.StdEncoding.EncodeToString(key[:]))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("handshake: %v", err)
	}
	t := &testing.T{}
	readServerFrame(t, br) // open
	_, _ = nc.Write(maskedFrame(true, 1, []byte("40")))
	readServerFrame(t, br) // CONNECT
	readServerFrame(t, br) // auth
	return nc
}
