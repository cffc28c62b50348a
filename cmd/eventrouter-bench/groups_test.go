package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseReceiverURLs(t *testing.T) {
	const (
		def = "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
		a   = "ws://127.0.0.1:21001/socket.io/?EIO=4&transport=websocket"
		b   = "ws://127.0.0.1:21002/socket.io/?EIO=4&transport=websocket"
		c   = "ws://localhost:21003/socket.io/?EIO=4&transport=websocket"
	)
	tests := []struct {
		name      string
		raw       string
		n         int      // receivers to spread
		wantURLs  []string // distinct groups, in order
		wantOf    []int    // group of receivers 0..len-1
		wantCount []int    // receivers per group out of n
		wantErr   bool
	}{
		{"empty: all on --url", "", 5, []string{def}, []int{0, 0, 0}, []int{5}, false},
		{"one URL", "http://127.0.0.1:21001", 4, []string{a}, []int{0, 0}, []int{4}, false},
		{"two: round robin", "http://127.0.0.1:21001,http://127.0.0.1:21002", 1000,
			[]string{a, b}, []int{0, 1, 0, 1}, []int{500, 500}, false},
		{"odd count: first gets the extra", "http://127.0.0.1:21001,http://127.0.0.1:21002", 5,
			[]string{a, b}, []int{0, 1, 0, 1, 0}, []int{3, 2}, false},
		{"three, with spaces and empty items", " http://127.0.0.1:21001 , ,http://127.0.0.1:21002,http://localhost:21003,", 7,
			[]string{a, b, c}, []int{0, 1, 2, 0}, []int{3, 2, 2}, false},
		{"listed twice: twice the share", "http://127.0.0.1:21001,http://127.0.0.1:21001,http://127.0.0.1:21002", 6,
			[]string{a, b}, []int{0, 0, 1, 0, 0, 1}, []int{4, 2}, false},
		{"same endpoint spelt two ways is one group", "http://127.0.0.1:21001,ws://127.0.0.1:21001/socket.io/", 4,
			[]string{a}, []int{0, 0, 0}, []int{4}, false},
		{"fewer receivers than URLs", "http://127.0.0.1:21001,http://127.0.0.1:21002,http://localhost:21003", 2,
			[]string{a, b, c}, []int{0, 1}, []int{1, 1, 0}, false},
		{"only commas", " , ", 1, nil, nil, nil, true},
		{"not loopback", "http://127.0.0.1:21001,http://example.com:3000", 1, nil, nil, nil, true},
		{"bad scheme", "ftp://127.0.0.1:21001", 1, nil, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseReceiverURLs(tt.raw, def)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseReceiverURLs(%q) error = %v, wantErr %v", tt.raw, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if !slices.Equal(g.URLs, tt.wantURLs) {
				t.Errorf("URLs = %q, want %q", g.URLs, tt.wantURLs)
			}
			for j, want := range tt.wantOf {
				if got := g.GroupOf(j); got != want {
					t.Errorf("GroupOf(%d) = %d, want %d", j, got, want)
				}
			}
			if got := g.Counts(tt.n); !slices.Equal(got, tt.wantCount) {
				t.Errorf("Counts(%d) = %v, want %v", tt.n, got, tt.wantCount)
			}
		})
	}
}

func TestParseWatched(t *testing.T) {
	tests := []struct {
		raw     string
		want    []Watched
		wantErr bool
	}{
		{"", nil, false},
		{"redis=42", []Watched{{"redis", 42}}, false},
		{" A=1 , B = 2,redis=3 ,", []Watched{{"A", 1}, {"B", 2}, {"redis", 3}}, false},
		{"redis", nil, true},
		{"=5", nil, true},
		{"a=0", nil, true},
		{"a=-3", nil, true},
		{"a=x", nil, true},
		{"a=1,a=2", nil, true},
		{"a b=1", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseWatched(tt.raw)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseWatched(%q) = %v, %v; want %v, err %v", tt.raw, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"redis", "17463 (redis-server) S 1 17462 16305 0 -1 4194560 1243 0 0 0 57 31 0 0 20 0 5 0 1599060 61054976 2412 18446744073709551615",
			880 * time.Millisecond, false},
		{"name with spaces and parens", "9 (a b) c)) R 1 9 9 0 -1 0 0 0 0 0 1200 300 0 0 20 0 1 0 5",
			15 * time.Second, false},
		{"no command", "9 a R 1", 0, true},
		{"too short", "9 (x) R 1 2 3", 0, true},
		{"not numbers", "9 (x) R 1 9 9 0 -1 0 0 0 0 0 u s 0 0", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseProcStat(tt.stat)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: ParseProcStat = %v, %v; want %v, err %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestValidateReceiverOptions(t *testing.T) {
	base := func() options {
		return options{url: "http://127.0.0.1:3000", clients: 10, senders: 1, rates: "1000",
			stepDuration: time.Second, dialConc: 1, timeout: time.Minute, sendEvent: "s", recvEvent: "r"}
	}
	tests := []struct {
		name     string
		edit     func(*options)
		wantURLs int
		wantErr  bool
	}{
		{"defaults: one group on --url", func(*options) {}, 1, false},
		{"two receiver URLs", func(o *options) { o.receiverURLs = "http://127.0.0.1:1,http://127.0.0.1:2" }, 2, false},
		{"watch pids", func(o *options) { o.watchPIDs = "a=1" }, 1, false},
		{"bad receiver URL", func(o *options) { o.receiverURLs = "http://10.0.0.1:1" }, 0, true},
		{"bad watch pids", func(o *options) { o.watchPIDs = "a" }, 0, true},
		{"receiver URLs in idle mode", func(o *options) { o.idle = 5; o.receiverURLs = "http://127.0.0.1:1" }, 0, true},
		{"watch pids in connect mode", func(o *options) { o.connectRate = true; o.watchPIDs = "a=1" }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.edit(&o)
			wsURL, _, err := o.validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("validate() error = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(o.groups.URLs) != tt.wantURLs {
				t.Errorf("groups = %q, want %d", o.groups.URLs, tt.wantURLs)
			}
			if o.receiverURLs == "" && o.groups.URLs[0] != wsURL {
				t.Errorf("default group %q, want --url's %q", o.groups.URLs[0], wsURL)
			}
		})
	}
}
