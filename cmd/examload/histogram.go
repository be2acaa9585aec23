package main

import (
	"math/bits"
	"time"
)

// histogram is a log-linear latency histogram over nanoseconds: values
// below 128 ns have their own bucket, larger ones keep their 7 most
// significant bits, so a bucket is at most 1/64 (1.6 %) wide relative to its
// value. Memory is fixed (about 30 KB) however long the run.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    uint64
}

const (
	histSubBits = 7
	histHalf    = 1 << (histSubBits - 1)
	histBuckets = (64-histSubBits+1)*histHalf + histHalf
)

func newHistogram() *histogram { return &histogram{} }

func histIndex(v uint64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits // ≥ 1
	top := v >> shift                    // in [64, 128)
	return shift*histHalf + int(top)
}

// histValue is the middle of bucket i.
func histValue(i int) uint64 {
	if i < 1<<histSubBits {
		return uint64(i)
	}
	shift := i/histHalf - 1
	top := uint64(i%histHalf + histHalf)
	lo := top << shift
	return lo + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)]++
	h.total++
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the value at q in [0, 1].
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	rank = min(max(rank, 1), h.total)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			return time.Duration(min(histValue(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) percentiles() Percentiles {
	return Percentiles{P50: h.quantile(0.50), P90: h.quantile(0.90), P99: h.quantile(0.99), Max: time.Duration(h.max)}
}
