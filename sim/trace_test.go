package sim_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

func TestValueJSON(t *testing.T) {
	cases := []struct {
		v    sim.Value
		want string
	}{
		{sim.Null(), `null`},
		{sim.Int(0), `0`},
		{sim.Int(1<<53 - 1), `9007199254740991`},
		{sim.Int(1 << 53), `9007199254740992`},
		{sim.Int(1<<53 + 1), `"0x20000000000001"`},
		{sim.Int(^uint64(0)), `"0xffffffffffffffff"`},
		{sim.Bool(true), `true`},
		{sim.Bool(false), `false`},
		{sim.Str(""), `""`},
		{sim.Str(`a"b\c`), `"a\"b\\c"`},
		{sim.Str("\n\t\r\x00\x01\x1f\x7f"), `"\n\t\r\u0000\u0001\u001f` + "\x7f" + `"`},
		{sim.Str("<a&b>"), `"\u003ca\u0026b\u003e"`},
		{sim.Str("héllo ☃ 𝄞"), `"héllo ☃ 𝄞"`},
		{sim.Str("bad\xffutf8\xc3"), `"bad\ufffdutf8\ufffd"`},
		{sim.Obj(""), `null`},
		{sim.Obj("sock1"), `"sock1"`},
		{sim.Bind("irp1"), `{"bind":"irp1"}`},
		{sim.Status(nt.STATUS_PENDING), `"STATUS_PENDING"`},
		{sim.Hex([]byte{0, 0xAB, 0x10}, ""), `{"hex":"00ab10"}`},
		{sim.Hex(nil, "pool2"), `{"hex":"","pool":"pool2"}`},
		{sim.Len(12, ""), `{"len":12}`},
		{sim.Len(12, "pool1"), `{"len":12,"pool":"pool1"}`},
		{sim.Ref("rec1", ""), `{"ref":"rec1"}`},
		{sim.Ref("rec1", "pool3"), `{"ref":"rec1","pool":"pool3"}`},
		{sim.Object(), `{}`},
		{sim.Object(sim.F("b", sim.Int(1)), sim.F("a\"", sim.Object(sim.F("x", sim.Null())))), `{"b":1,"a\"":{"x":null}}`},
	}
	for _, c := range cases {
		got := string(c.v.AppendJSON([]byte("prefix:")))
		assert.Equal(t, "prefix:"+c.want, got)
		assert.True(t, json.Valid([]byte(c.want)), "not valid JSON: %s", c.want)
	}
}

// TestStringRoundTrip: every string, valid UTF-8 or not, encodes to a JSON
// string that decodes to the same text (invalid bytes as U+FFFD, as
// encoding/json does).
func TestStringRoundTrip(t *testing.T) {
	inputs := []string{"", "plain", "\x00\x1f\"\\/", "\u2028\u2029", "\xed\xa0\x80", "a\xffb", strings.Repeat("\xe2\x98", 3)}
	for b := 0; b < 256; b++ {
		inputs = append(inputs, string([]byte{byte(b)}), "x"+string([]byte{byte(b), 'y'}))
	}
	for _, in := range inputs {
		enc := sim.Str(in).AppendJSON(nil)
		var out string
		require.NoError(t, json.Unmarshal(enc, &out), "%q encoded as %s", in, enc)
		want := strings.ToValidUTF8(in, "\uFFFD")
		if !utf8.ValidString(in) {
			// encoding/json replaces each invalid byte, not each run.
			std, _ := json.Marshal(in)
			require.NoError(t, json.Unmarshal(std, &want))
		}
		assert.Equal(t, want, out, "%q encoded as %s", in, enc)
	}
}

func traceLines(t *testing.T, b *bytes.Buffer) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for _, l := range lines {
		require.True(t, json.Valid([]byte(l)), "invalid JSON line %s", l)
	}
	return lines
}

func TestTraceEvents(t *testing.T) {
	var b bytes.Buffer
	w := sim.NewWorld(sim.Config{Trace: &b, TraceSource: "unit", Profile: "strict"})
	assert.True(t, w.Tracing())
	f := w.Begin("WskSocket")
	w.TraceCall(f, sim.F("AddressFamily", sim.Int(2)))
	w.Return(f, nt.STATUS_SUCCESS, sim.F("Socket", sim.Bind("sock1")))
	w.SetIRQL(nt.DISPATCH_LEVEL)
	g := w.Begin("IoFreeIrp")
	w.TraceCall(g, sim.F("Irp", sim.Obj("irp1")))
	w.ReturnVoid(g)
	w.SetIRQL(nt.PASSIVE_LEVEL)
	h := w.Begin("KeGetCurrentIrql")
	w.TraceCall(h)
	w.ReturnValue(h, sim.Str("PASSIVE_LEVEL"), sim.F("x", sim.Int(1)))
	w.TraceEnv("peer_listen", sim.F("port", sim.Int(80)))
	w.TraceNote("done")
	require.NoError(t, w.Close())
	assert.Equal(t, []string{
		`{"wsktrace":1,"source":"unit","profile":"strict","completions":"all"}`,
		`{"seq":1,"ev":"call","fn":"WskSocket","args":{"AddressFamily":2}}`,
		`{"seq":2,"ev":"return","call":1,"status":"STATUS_SUCCESS","out":{"Socket":{"bind":"sock1"}}}`,
		`{"seq":3,"ev":"call","fn":"IoFreeIrp","args":{"Irp":"irp1"},"irql":"DISPATCH_LEVEL"}`,
		`{"seq":4,"ev":"call","fn":"KeGetCurrentIrql","args":{}}`,
		`{"seq":5,"ev":"return","call":4,"value":"PASSIVE_LEVEL","out":{"x":1}}`,
		`{"seq":6,"ev":"env","what":"peer_listen","port":80}`,
		`{"seq":7,"ev":"note","text":"done"}`,
	}, traceLines(t, &b))

	b.Reset()
	w = sim.NewWorld(sim.Config{Trace: &b})
	require.NoError(t, w.Close())
	assert.Equal(t, "{\"wsktrace\":1,\"source\":\"wsksim\",\"completions\":\"all\"}\n", b.String())
}

// TestTraceCompleteHoldsEvents: events written while a completion routine runs
// come after the complete event, which gets routine_returned only when the
// routine returned something other than STATUS_MORE_PROCESSING_REQUIRED.
func TestTraceCompleteHoldsEvents(t *testing.T) {
	var b bytes.Buffer
	w := sim.NewWorld(sim.Config{Trace: &b})
	f := w.Begin("WskSend")
	w.TraceCall(f)
	tok := w.TraceCompleteBegin("irp1", nt.STATUS_SUCCESS, sim.Int(5), true, sim.F("o", sim.Int(1)))
	// Inside the routine: a call and a nested completion.
	g := w.Begin("IoFreeIrp")
	w.TraceCall(g, sim.F("Irp", sim.Obj("irp2")))
	w.ReturnVoid(g)
	inner := w.TraceCompleteBegin("irp2", nt.STATUS_CANCELLED, sim.Bind("sock1"), false)
	w.TraceNote("in inner routine")
	w.TraceCompleteEnd(inner, nt.STATUS_SUCCESS)
	w.TraceCompleteEnd(tok, nt.STATUS_MORE_PROCESSING_REQUIRED)
	w.Return(f, nt.STATUS_SUCCESS)
	require.NoError(t, w.Close())
	assert.Equal(t, []string{
		`{"wsktrace":1,"source":"wsksim","completions":"all"}`,
		`{"seq":1,"ev":"call","fn":"WskSend","args":{}}`,
		`{"seq":2,"ev":"complete","irp":"irp1","status":"STATUS_SUCCESS","information":5,"out":{"o":1},"pending_returned":true,"routine_end":5}`,
		`{"seq":3,"ev":"call","fn":"IoFreeIrp","args":{"Irp":"irp2"}}`,
		`{"seq":4,"ev":"complete","irp":"irp2","status":"STATUS_CANCELLED","information":{"bind":"sock1"},"routine_returned":"STATUS_SUCCESS","routine_end":5}`,
		`{"seq":5,"ev":"note","text":"in inner routine"}`,
		`{"seq":6,"ev":"return","call":1,"status":"STATUS_SUCCESS"}`,
	}, traceLines(t, &b))

	// Untraced: a sequence number is still taken, and the token is -1.
	w = sim.NewWorld(sim.Config{})
	assert.False(t, w.Tracing())
	assert.Equal(t, -1, w.TraceCompleteBegin("irp1", nt.STATUS_SUCCESS, sim.Int(0), false))
	w.TraceCompleteEnd(-1, nt.STATUS_SUCCESS)
	w.TraceNote("x")
	w.TraceEnv("y")
	assert.Equal(t, uint64(3), w.Seq())
}
