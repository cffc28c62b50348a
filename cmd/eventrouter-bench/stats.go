package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Latencies are kept as exact samples (nanoseconds) and sorted once per
// step. The sweep bounds a step's samples to rate × duration (see
// maxSamples), at most a few million int64s, so memory stays in the tens of
// megabytes and the sort takes well under a second, while percentiles are
// exact and need no dependency nor bucket-precision argument.

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of sorted by the
// nearest-rank method: the smallest sample such that at least q of the
// samples are at or below it. It returns 0 for no samples.
func Percentile(sorted []int64, q float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if q <= 0 {
		return sorted[0]
	}
	if q >= 1 {
		return sorted[n-1]
	}
	rank := int(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// Summary is the latency distribution of a set of samples.
type Summary struct {
	// Count is the number of samples.
	Count int `json:"count"`
	// P50 is the median, in milliseconds.
	P50 float64 `json:"p50_ms"`
	// P90 is the 90th percentile, in milliseconds.
	P90 float64 `json:"p90_ms"`
	// P99 is the 99th percentile, in milliseconds.
	P99 float64 `json:"p99_ms"`
	// P999 is the 99.9th percentile, in milliseconds.
	P999 float64 `json:"p999_ms"`
	// Max is the largest sample, in milliseconds.
	Max float64 `json:"max_ms"`
}

// Summarize sorts samples (nanoseconds) in place and returns their
// distribution in milliseconds.
func Summarize(samples []int64) Summary {
	slices.Sort(samples)
	ms := func(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }
	return Summary{
		Count: len(samples),
		P50:   ms(Percentile(samples, 0.50)),
		P90:   ms(Percentile(samples, 0.90)),
		P99:   ms(Percentile(samples, 0.99)),
		P999:  ms(Percentile(samples, 0.999)),
		Max:   ms(Percentile(samples, 1)),
	}
}

// ParseRates parses a comma-separated list of rates such as
// "5000,10k,25000,1.5m" (k = ×1000, m = ×1 000 000). Every rate must be
// positive and at most limit.
func ParseRates(s string, limit int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		if f == "" {
			continue
		}
		mult := 1.0
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1e3, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "m"):
			mult, f = 1e6, strings.TrimSuffix(f, "m")
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("rate %q: %w", f, err)
		}
		r := int(math.Round(v * mult))
		if r <= 0 || r > limit {
			return nil, fmt.Errorf("rate %d out of range 1..%d", r, limit)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no rates in %q", s)
	}
	return out, nil
}

// MessageRate converts offered deliveries/s into messages/s for clients
// receivers (each message is delivered to every receiver).
func MessageRate(deliveries, clients int) float64 {
	if clients <= 0 {
		return 0
	}
	return float64(deliveries) / float64(clients)
}

// Lost returns expected − received, never negative.
func Lost(expected, received int64) int64 {
	if received >= expected {
		return 0
	}
	return expected - received
}

// PerSecond returns n / d in events per second, 0 for d ≤ 0.
func PerSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n)/d.Seconds()*10) / 10
}
