// Command fuzz2scenario prints a fuzz.FuzzWorld input as a scenario file: the
// program it decodes to, run once, with every command's output filled in and
// the choices fixed by the program's seed and pins, so a crash found by the
// fuzzer becomes a readable regression under scenarios/testdata/.
//
//	go run ./fuzz/cmd/fuzz2scenario fuzz/testdata/fuzz/FuzzWorld/proxy-flow
//	go run ./fuzz/cmd/fuzz2scenario -raw crash-0123abcd   # a raw libFuzzer testcase
//
// The properties that failed on the input (fuzz.Check) are written to stderr;
// the exit status is 1 when any did, 0 otherwise, 2 on bad input.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wsksim/wsksim/fuzz"
	"github.com/wsksim/wsksim/fuzz/internal/corpusfile"
)

func main() {
	raw := flag.Bool("raw", false, "the file holds raw input bytes, not a go-test-fuzz-v1 corpus file")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: fuzz2scenario [-raw] <corpus file>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	name := flag.Arg(0)
	data, err := os.ReadFile(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzz2scenario:", err)
		os.Exit(2)
	}
	if !*raw {
		if data, err = corpusfile.Raw(name, data); err != nil {
			fmt.Fprintln(os.Stderr, "fuzz2scenario:", err)
			os.Exit(2)
		}
	}
	p := fuzz.Decode(data)
	fmt.Println(p.Scenario())
	if problems := fuzz.Check(data); len(problems) > 0 {
		for _, pr := range problems {
			fmt.Fprintln(os.Stderr, "fuzz2scenario:", pr)
		}
		os.Exit(1)
	}
}
