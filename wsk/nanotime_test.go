package wsk_test

import "time"

var benchStart = time.Now()

// nanotime is a monotonic clock for the interleaved benchmark.
func nanotime() int64 { return int64(time.Since(benchStart)) }
