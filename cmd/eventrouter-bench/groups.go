package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ReceiverGroups is how a sweep's receivers are spread over servers
// (--receiver-urls): receiver j connects to List[j % len(List)], round
// robin, and its statistics count towards the group of that URL. A URL
// listed twice gets twice the share; URLs that name the same endpoint
// (http://127.0.0.1:3000 and ws://127.0.0.1:3000/socket.io/) are one group.
type ReceiverGroups struct {
	// URLs are the distinct websocket URLs, in order of first appearance;
	// a group's index is its position here.
	URLs []string
	// list is the group index of each entry of the round-robin list.
	list []int
}

// ParseReceiverURLs parses --receiver-urls, a comma-separated list of
// server URLs (each as --url accepts it). An empty list means every
// receiver connects to def, the already-resolved websocket URL of --url.
func ParseReceiverURLs(raw, def string) (*ReceiverGroups, error) {
	g := &ReceiverGroups{}
	index := map[string]int{}
	add := func(u string) {
		i, ok := index[u]
		if !ok {
			i = len(g.URLs)
			index[u] = i
			g.URLs = append(g.URLs, u)
		}
		g.list = append(g.list, i)
	}
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		u, err := SocketURL(f)
		if err != nil {
			return nil, fmt.Errorf("--receiver-urls: %w", err)
		}
		add(u)
	}
	if len(g.list) == 0 {
		if strings.TrimSpace(raw) != "" {
			return nil, fmt.Errorf("--receiver-urls %q: no URL in it", raw)
		}
		add(def)
	}
	return g, nil
}

// GroupOf returns the group of receiver j (0-based).
func (g *ReceiverGroups) GroupOf(j int) int { return g.list[j%len(g.list)] }

// Counts returns how many of n receivers each group gets.
func (g *ReceiverGroups) Counts(n int) []int {
	c := make([]int, len(g.URLs))
	for j := 0; j < n; j++ {
		c[g.GroupOf(j)]++
	}
	return c
}

// Watched is a process whose CPU use the sweep reports per step
// (--watch-pids), such as the server under test or its Redis.
type Watched struct {
	// Name labels the process in the report.
	Name string
	// PID is its process id.
	PID int
}

// ParseWatched parses --watch-pids: comma-separated name=pid pairs with
// distinct names.
func ParseWatched(raw string) ([]Watched, error) {
	var out []Watched
	seen := map[string]bool{}
	for _, f := range strings.Split(raw, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, pid, ok := strings.Cut(f, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\"") {
			return nil, fmt.Errorf("--watch-pids: %q is not name=pid", f)
		}
		n, err := strconv.Atoi(strings.TrimSpace(pid))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--watch-pids: %q: pid must be a positive integer", f)
		}
		if seen[name] {
			return nil, fmt.Errorf("--watch-pids: name %q given twice", name)
		}
		seen[name] = true
		out = append(out, Watched{Name: name, PID: n})
	}
	return out, nil
}

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which is 100 on every Linux architecture Go supports (getconf CLK_TCK).
const clockTick = 10 * time.Millisecond

// ParseProcStat returns utime + stime, summed over all the threads of the
// process, from the text of /proc/PID/stat. The command name (field 2) is
// in parentheses and may hold spaces and parentheses itself, so fields are
// counted from the last ')'.
func ParseProcStat(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command field")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc stat: utime %q stime %q", f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}

// procCPU returns the CPU time process pid has used so far, from
// /proc/PID/stat (Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseProcStat(string(b))
}
