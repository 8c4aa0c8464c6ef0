package cli

import (
	"bytes"

	"github.com/wsksim/wsksim/scenarios"
)

// seedStopped reports whether err, returned by scenarios.Run for one seed of a
// file, is that seed's outcome rather than a malformed file: the file parses
// and every command and argument is known, so a command could not run under
// this seed (a name a completion still pending never bound, say). run and
// explore report it with the seed and the command that reproduces it.
func seedStopped(path string, data []byte, err error) bool {
	if err == nil {
		return false
	}
	s, perr := scenarios.Parse(path, bytes.NewReader(data))
	return perr == nil && s.Check() == nil
}
