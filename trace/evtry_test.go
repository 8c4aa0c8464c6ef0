package trace

import (
	"bytes"
	"os"
	"testing"
)

func TestEvTry(t *testing.T) {
	b := echoSample()
	os.WriteFile("/tmp/echo.jsonl", b, 0o644)
	rep, err := Replay(bytes.NewReader(b), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	t.Log(out.String())
}
