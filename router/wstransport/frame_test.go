package wstransport

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ws "github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// TestFrameReadByGorilla writes frames built by frame() straight to the
// connection under a gorilla server, and checks that gorilla's client reads
// back the exact message, at every payload length encoding boundary.
func TestFrameReadByGorilla(t *testing.T) {
	cases := []struct {
		name string
		buf  types.BufferInterface
		mt   int
		size int
	}{
		{"empty text", types.NewStringBufferString(""), ws.TextMessage, 0},
		{"short text", types.NewStringBufferString(`42["receive_message","hi"]`), ws.TextMessage, 26},
		{"125 bytes", types.NewStringBufferString(strings.Repeat("a", 125)), ws.TextMessage, 125},
		{"126 bytes", types.NewStringBufferString(strings.Repeat("b", 126)), ws.TextMessage, 126},
		{"65535 bytes", types.NewStringBufferString(strings.Repeat("c", 65535)), ws.TextMessage, 65535},
		{"65536 bytes", types.NewStringBufferString(strings.Repeat("d", 65536)), ws.TextMessage, 65536},
		{"binary", types.NewBytesBuffer([]byte{0, 1, 2, 255}), ws.BinaryMessage, 4},
	}
	frames := make(chan []byte)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&ws.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer c.Close()
		for f := range frames {
			if _, err := c.NetConn().Write(f); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}))
	defer srv.Close()
	defer close(frames)
	client, _, err := ws.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := bytes.Clone(tc.buf.Bytes())
			frames <- frame(tc.buf)
			mt, got, err := client.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if mt != tc.mt || len(got) != tc.size || !bytes.Equal(got, want) {
				t.Errorf("got type %d, %d bytes; want type %d, %d bytes", mt, len(got), tc.mt, tc.size)
			}
		})
	}
}

// TestFrameCacheSharesBroadcastFrames checks that one pre-encoded buffer
// is framed once however many sockets ask, and that distinct buffers get
// distinct frames.
func TestFrameCacheSharesBroadcastFrames(t *testing.T) {
	var c frameCache
	a := types.NewStringBufferString("4a")
	b := types.NewStringBufferString("4b")
	fa := c.get(a)
	for range 100 {
		if f := c.get(a); &f[0] != &fa[0] {
			t.Fatal("a broadcast buffer was framed again")
		}
	}
	if fb := c.get(b); bytes.Equal(fb, fa) {
		t.Fatal("distinct buffers share a frame")
	}
	// Evicted entries are rebuilt, equal in content.
	for i := range 32 {
		c.get(types.NewStringBufferString(strings.Repeat("x", i)))
	}
	if f := c.get(a); !bytes.Equal(f, fa) {
		t.Fatal("rebuilt frame differs")
	}
}
