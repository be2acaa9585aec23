package cassandra

import (
	"fmt"
	"slices"
	"time"
)

// percentiles formats p50/p99/max of latencies.
func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "n/a"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %v p99 %v max %v", at(0.50), at(0.99), s[len(s)-1].Round(time.Millisecond))
}
