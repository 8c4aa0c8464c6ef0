// Command wsksim runs wsksim scenarios and prints the model's rule and policy
// tables. Run "wsksim help" for the subcommands and exit codes.
package main

import (
	"os"

	"github.com/wsksim/wsksim/cmd/wsksim/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
