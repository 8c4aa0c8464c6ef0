package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/scenarios"
)

const diagramText = `Usage: wsksim diagram [--seed S] FILE

Runs FILE and prints a Mermaid sequenceDiagram of the run, drawn from its
wsktrace: participants Driver, IoMgr, WSK, WFP and the peers (user-mode
programs: one per connection, Peers for listeners); an arrow for each call,
return and completion, for each classifyFn WFP calls, and for each peer event. Paste it into a ` + "```mermaid" + ` block.
`

func cmdDiagram(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("diagram", diagramText, exitsDiagram, stderr)
	seed := fs.Uint64("seed", 1, "the seed to run with")
	pos, code, ok := parse(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "wsksim diagram: expected exactly one FILE")
		return ExitUsage
	}
	srcs, err := resolve(pos, false, stderr)
	if err == nil && len(srcs) != 1 {
		err = fmt.Errorf("%s names %d files; diagram takes one", pos[0], len(srcs))
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsksim diagram: %v\n", err)
		return ExitUsage
	}
	var trace bytes.Buffer
	if _, err := scenarios.Run(srcs[0].path, bytes.NewReader(srcs[0].data), scenarios.Options{Seed: *seed, Trace: &trace}); err != nil {
		fmt.Fprintf(stderr, "wsksim diagram: %v\n", err)
		return ExitUsage
	}
	d, err := Diagram(trace.Bytes())
	if err != nil {
		fmt.Fprintf(stderr, "wsksim diagram: internal: %v\n", err)
		return ExitUsage
	}
	io.WriteString(stdout, d)
	return ExitOK
}

type kv struct {
	k string
	v json.RawMessage
}

// object decodes a JSON object keeping its key order.
func object(raw json.RawMessage) ([]kv, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not an object: %s", raw)
	}
	var out []kv
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, kv{t.(string), v})
	}
	return out, nil
}

func get(o []kv, k string) json.RawMessage {
	for _, x := range o {
		if x.k == k {
			return x.v
		}
	}
	return nil
}

// short renders a trace value compactly: strings bare, {"bind":x} as x,
// buffers as their kind.
func short(v json.RawMessage) string {
	if string(v) == "null" {
		return "NULL"
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	if o, err := object(v); err == nil {
		if b := get(o, "bind"); b != nil {
			return short(b)
		}
		if b := get(o, "len"); b != nil {
			return "len " + string(b)
		}
		if b := get(o, "ref"); b != nil {
			return short(b)
		}
		if b := get(o, "hex"); b != nil {
			return "hex " + short(b)
		}
		var parts []string
		for _, x := range o {
			parts = append(parts, x.k+"="+short(x.v))
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return string(v)
}

// participant maps a DDI name to the component that implements it.
func participant(fn string) string {
	switch {
	case strings.HasPrefix(fn, "Io"), strings.HasPrefix(fn, "Ex"):
		return "IoMgr"
	case strings.HasPrefix(fn, "Fwp"):
		return "WFP"
	}
	return "WSK"
}

// peerParticipant turns a peer's name into a Mermaid participant id that
// cannot clash with the fixed participants.
func peerParticipant(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	id := b.String()
	switch id {
	case "", "Driver", "IoMgr", "WSK", "WFP", "Peers":
		id = "peer_" + id
	}
	return id
}

func mermaidText(s string) string {
	r := strings.NewReplacer(";", ",", "#", "no.", "\n", " ", "<", "(", ">", ")")
	s = r.Replace(s)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// Diagram turns a wsktrace v1 into a Mermaid sequenceDiagram.
func Diagram(trace []byte) (string, error) {
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	b.WriteString("    participant Driver\n    participant IoMgr\n    participant WSK\n    participant WFP\n")
	calls := map[string]string{} // call seq -> participant
	peers := map[string]bool{}
	var body strings.Builder
	for n, line := range bytes.Split(trace, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 || n == 0 {
			continue
		}
		ev, err := object(line)
		if err != nil {
			return "", err
		}
		switch short(get(ev, "ev")) {
		case "call":
			fn := short(get(ev, "fn"))
			p := participant(fn)
			calls[string(get(ev, "seq"))] = p
			var parts []string
			if a := get(ev, "args"); a != nil {
				o, _ := object(a)
				for _, x := range o {
					parts = append(parts, x.k+"="+symbolic(fn, x.k, short(x.v)))
				}
			}
			fmt.Fprintf(&body, "    Driver->>%s: %s\n", p, mermaidText(fn+"("+strings.Join(parts, ", ")+")"))
		case "return":
			p := calls[string(get(ev, "call"))]
			if p == "" {
				p = "WSK"
			}
			r := short(get(ev, "status"))
			if v := get(ev, "value"); v != nil {
				r = short(v)
			}
			fmt.Fprintf(&body, "    %s-->>Driver: %s\n", p, mermaidText(r))
		case "complete":
			fmt.Fprintf(&body, "    IoMgr->>Driver: %s\n", mermaidText("complete "+short(get(ev, "irp"))+" "+short(get(ev, "status"))+" info="+short(get(ev, "information"))))
		case "env":
			what := short(get(ev, "what"))
			switch what {
			case "classify":
				// WFP calls a callout driver's classifyFn.
				desc := fmt.Sprintf("classifyFn %s at %s: pid %s %s -> %s", short(get(ev, "callout")),
					strings.TrimPrefix(short(get(ev, "layer")), "FWPS_LAYER_"), short(get(ev, "processId")), short(get(ev, "local")), short(get(ev, "remote")))
				fmt.Fprintf(&body, "    WFP->>Driver: %s\n", mermaidText(desc))
				continue
			case "classify_return":
				fmt.Fprintf(&body, "    Driver-->>WFP: %s\n", mermaidText(short(get(ev, "callout"))+" "+short(get(ev, "actionType"))))
				continue
			}
			who := "Peers"
			for _, k := range []string{"name", "conn"} {
				if v := get(ev, k); v != nil {
					who = peerParticipant(short(v))
				}
			}
			peers[who] = true
			var parts []string
			for _, x := range ev {
				if x.k != "seq" && x.k != "ev" && x.k != "what" && x.k != "name" && x.k != "conn" {
					parts = append(parts, x.k+"="+short(x.v))
				}
			}
			fmt.Fprintf(&body, "    %s->>WSK: %s\n", who, mermaidText(strings.TrimSpace(what+" "+strings.Join(parts, " "))))
		case "note":
			fmt.Fprintf(&body, "    Note over Driver: %s\n", mermaidText(short(get(ev, "text"))))
		}
	}
	var ps []string
	for p := range peers {
		ps = append(ps, p)
	}
	sortStrings(ps)
	for _, p := range ps {
		fmt.Fprintf(&b, "    participant %s\n", p)
	}
	b.WriteString(body.String())
	return b.String(), nil
}

// symbolic renders pool flags and tags the way `wsksim run` prints them
// (POOL_FLAG_NON_PAGED, Wsks) instead of as the trace's integers.
func symbolic(fn, arg, v string) string {
	if !strings.HasPrefix(fn, "ExAllocatePool") && !strings.HasPrefix(fn, "ExFreePool") {
		return v
	}
	n, err := strconv.ParseUint(v, 0, 64)
	if err != nil {
		return v
	}
	switch arg {
	case "Tag":
		if n > 0xFFFFFFFF {
			return v
		}
		return irp.TagString(uint32(n))
	case "Flags":
		var parts []string
		for _, x := range []struct {
			v uint64
			n string
		}{{irp.POOL_FLAG_UNINITIALIZED, "POOL_FLAG_UNINITIALIZED"}, {irp.POOL_FLAG_NON_PAGED, "POOL_FLAG_NON_PAGED"}, {irp.POOL_FLAG_PAGED, "POOL_FLAG_PAGED"}} {
			if n&x.v != 0 {
				parts = append(parts, x.n)
				n &^= x.v
			}
		}
		if n != 0 || len(parts) == 0 {
			parts = append(parts, fmt.Sprintf("0x%X", n))
		}
		return strings.Join(parts, "|")
	}
	return v
}
