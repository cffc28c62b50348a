// Command receiver is a tiny webhook receiver for examples/webhook: it
// verifies each delivery's X-Eventrouter-Signature with the shared secret,
// refuses a bad or stale one with 401, and prints the deliveries it
// accepts. A delivery retried after a failure carries the same
// X-Eventrouter-Delivery id; a real receiver would drop the ones it has
// seen.
//
//	go run ./examples/webhook/receiver -listen 127.0.0.1:8081 -secret demo-webhook-secret-not-for-production
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/eventrouter/eventrouter/internal/backend"
)

// tolerance is how old (or how far ahead) a signature's time may be.
const tolerance = 5 * time.Minute

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	secret := flag.String("secret", "demo-webhook-secret-not-for-production", "the backend's secret (secret: in the config)")
	flag.Parse()
	http.Handle("POST /hook", handler(*secret, os.Stdout, time.Now))
	log.Printf("receiving webhooks on http://%s/hook", *listen)
	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// handler verifies each delivery and prints the good ones to out, one a
// line: the delivery id and the body.
func handler(secret string, out io.Writer, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		if err := backend.Verify(secret, req.Header.Get(backend.HeaderSignature), body, now(), tolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized) // 4xx: the daemon does not retry
			return
		}
		fmt.Fprintf(out, "%s %s\n", req.Header.Get(backend.HeaderDelivery), body)
		w.WriteHeader(http.StatusNoContent)
	})
}
