// Command yardstick is the benchmark's yardstick: a bare gorilla/websocket
// hub that speaks just enough Engine.IO v4 / Socket.IO v5 for
// eventrouter-bench (open, namespace connect, ping/pong, one event) and
// relays send_message to every client as receive_message, logging each
// message as the original server does. It has no rules, no rooms, no
// polling and no acks: it shows what the same machine can do with the
// least work per delivery, one shared prepared frame per broadcast and a
// writer goroutine per client.
//
//	yardstick --listen 127.0.0.1:3000
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

const openPacket = `0{"sid":"%s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "address to listen on")
	flag.Parse()
	h := &hub{clients: map[*client]struct{}{}, log: log.New(os.Stdout, "", log.LstdFlags)}
	http.HandleFunc("/socket.io/", h.serve)
	log.Fatal(http.ListenAndServe(*listen, nil))
}

// hub holds the connected clients.
type hub struct {
	mu      sync.RWMutex
	clients map[*client]struct{}
	ids     atomic.Int64
	log     *log.Logger
}

// client is one websocket connection with its outgoing queue.
type client struct {
	conn *websocket.Conn
	out  chan *websocket.PreparedMessage
}

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, CheckOrigin: func(*http.Request) bool { return true }}

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	id := strconv.FormatInt(h.ids.Add(1), 36)
	if r.URL.Query().Get("transport") != "websocket" {
		fmt.Fprintf(w, openPacket, id) // enough for a readiness probe
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{conn: conn, out: make(chan *websocket.PreparedMessage, 1024)}
	_ = conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, openPacket, id))
	go c.write()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
		close(c.out)
		_ = conn.Close()
	}()
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case bytes.Equal(msg, []byte("40")):
			h.mu.Lock()
			h.clients[c] = struct{}{}
			h.mu.Unlock()
			c.send(prepare(fmt.Appendf(nil, `40{"sid":"%s"}`, id)))
		case bytes.Equal(msg, []byte("2")):
			c.send(prepare([]byte("3")))
		case bytes.HasPrefix(msg, []byte(`42["send_message",`)):
			data := msg[len(`42["send_message",`) : len(msg)-1]
			h.log.Printf("受信メッセージ: %s", data)
			frame := append([]byte(`42["receive_message",`), msg[len(`42["send_message",`):]...)
			pm := prepare(frame)
			h.mu.RLock()
			for other := range h.clients {
				other.send(pm)
			}
			h.mu.RUnlock()
		}
	}
}

func prepare(b []byte) *websocket.PreparedMessage {
	pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, b)
	return pm
}

// send queues pm, dropping it when the client is too far behind.
func (c *client) send(pm *websocket.PreparedMessage) {
	select {
	case c.out <- pm:
	default:
	}
}

// write sends queued frames until the queue is closed.
func (c *client) write() {
	for pm := range c.out {
		if err := c.conn.WritePreparedMessage(pm); err != nil {
			return
		}
	}
}
