// Package corpusfile reads the "go test fuzz v1" seed-corpus files that native
// Go fuzzing commits under testdata/fuzz/<Target>/, so that the same seeds can
// be handed to libFuzzer-style engines (ClusterFuzzLite, OSS-Fuzz) as raw bytes.
package corpusfile

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

const header = "go test fuzz v1"

// Raw returns the single []byte or string value of a corpus file. Files with
// several values, or values of other types, return an error naming the line:
// raw-byte engines cannot take them unchanged.
func Raw(name string, data []byte) ([]byte, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	line := 0
	var vals [][]byte
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if line == 1 {
			if t != header {
				return nil, fmt.Errorf("%s:1: want %q, got %q", name, header, t)
			}
			continue
		}
		if t == "" {
			continue
		}
		var lit string
		switch {
		case strings.HasPrefix(t, "[]byte(") && strings.HasSuffix(t, ")"):
			lit = t[len("[]byte(") : len(t)-1]
		case strings.HasPrefix(t, "string(") && strings.HasSuffix(t, ")"):
			lit = t[len("string(") : len(t)-1]
		default:
			return nil, fmt.Errorf("%s:%d: only []byte(...) and string(...) values convert to raw bytes, got %q", name, line, t)
		}
		s, err := strconv.Unquote(lit)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: bad literal %s: %v", name, line, lit, err)
		}
		vals = append(vals, []byte(s))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%s: empty file, want %q header", name, header)
	}
	if len(vals) != 1 {
		return nil, fmt.Errorf("%s: %d values; raw conversion needs exactly one", name, len(vals))
	}
	return vals[0], nil
}
