package fuzz

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/scenarios"
)

// ScenarioName is the name programs run under (the trace header's source).
const ScenarioName = "fuzz-world.txt"

// maxEvents bounds every `run` of a program (sim.Config.MaxEvents).
const maxEvents = 100_000

// Step is one command a program ran and what it printed.
type Step struct {
	Cmd    *scenarios.Command
	Output string
	Op     int // index of the operation it belongs to; -1 for the header, -2 for the epilogue
}

// Outcome is the result of running a program once.
type Outcome struct {
	Steps    []Step
	Trace    []byte
	Problems []string // properties that failed (plain model, liveness, status classes)
	Dropped  int      // commands the interpreter refused (never printed)
	Errors   []string // why, for the first few
}

// Failed reports whether a property failed.
func (o *Outcome) Failed() bool { return len(o.Problems) > 0 }

type runner struct {
	in    *scenarios.Interp
	trace bytes.Buffer
	out   *Outcome
	model *model
	op    int

	irps      []string // display names, in allocation order
	pools     []string
	poolSize  map[string]uint64
	sockets   []string
	sockSeen  map[string]bool
	pids      []string
	regs      []string
	clients   []string
	listeners []string
	conns     []string
	udpPeers  []string
	ctlLen    string // the ControlLength the last WskReceiveFrom completion showed
	callouts  int
}

// Run executes the program in a fresh world through the scenario
// interpreter, checks the plain model, the status classes and liveness on
// the way, and returns what happened. It never panics on its own; a panic
// is the model's.
func (p *Program) Run() *Outcome {
	r := &runner{out: &Outcome{}, poolSize: map[string]uint64{}, sockSeen: map[string]bool{}}
	r.model = newModel()
	r.in = scenarios.New(ScenarioName, scenarios.Options{Trace: &r.trace, MaxEvents: maxEvents})
	r.op = -1
	r.exec("seed", kv("value", strconv.Itoa(int(p.Seed))))
	for _, f := range p.Faults {
		switch f.Site {
		case "wsk.forced-close":
			r.exec("policy", kv("id", "P-FORCED"), kv("option", "inject"))
		case "wfp.record-loss":
			r.exec("policy", kv("id", "P-LOSS"), kv("option", "on"))
		}
		r.exec("fault", kv("site", f.Site), kv("rate", strconv.Itoa(f.PerMille)))
	}
	for k, op := range p.Ops {
		r.op = k
		r.run(op)
	}
	r.op = -2
	r.epilogue()
	if err := r.in.Close(); err != nil {
		r.problem("closing the world: %v", err)
	}
	r.out.Trace = r.trace.Bytes()
	r.out.Problems = append(r.out.Problems, r.model.problems...)
	return r.out
}

func (r *runner) problem(format string, a ...any) {
	r.out.Problems = append(r.out.Problems, fmt.Sprintf(format, a...))
}

func kv(k, v string) scenarios.Arg { return scenarios.Arg{Key: k, Vals: []string{v}} }
func flag(k string) scenarios.Arg  { return scenarios.Arg{Key: k} }

var (
	reIRP      = regexp.MustCompile(`^IoAllocateIrp\(.*\) -> (irp\d+)`)
	rePool     = regexp.MustCompile(`^ExAllocatePool2\(Flags=\S+, NumberOfBytes=(\d+), Tag=\S+\) -> (pool\d+)`)
	reSocket   = regexp.MustCompile(`socket=(sock\d+)`)
	reProcess  = regexp.MustCompile(`^process (\d+) `)
	reListener = regexp.MustCompile(`^(listener\d+)`)
	reUDPPeer  = regexp.MustCompile(`^(peer\d+): process \d+ has a UDP endpoint`)
	reCtlLen   = regexp.MustCompile(`completion routine: .* ControlLength=(\d+)`)
	rePeer     = regexp.MustCompile(`-> STATUS_\w+, (peer\d+) \(`)
	reAccepted = regexp.MustCompile(`^accepted (\S+?)[: ]`)
	reOpenSock = regexp.MustCompile(`^(sock\d+)[: ]`)
)

// exec runs one command; a command the interpreter refuses is dropped (it
// is not part of the program's scenario).
func (r *runner) exec(name string, args ...scenarios.Arg) (string, bool) {
	c := &scenarios.Command{File: ScenarioName, Line: len(r.out.Steps) + 1, Name: name, Args: args}
	before := 0
	if name != "seed" { // World() makes the world; seed must come first
		before = r.in.World().ViolationCount()
	}
	out, err := r.in.Exec(c)
	if err != nil {
		r.out.Dropped++
		if len(r.out.Errors) < 10 {
			r.out.Errors = append(r.out.Errors, err.Error())
		}
		return "", false
	}
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	r.out.Steps = append(r.out.Steps, Step{Cmd: c, Output: out, Op: r.op})
	var rules []string
	if w := r.in.World(); w.ViolationCount() > before {
		for _, v := range w.Violations()[before:] {
			rules = append(rules, v.Rule)
		}
	}
	r.model.command(c, out, rules)
	r.learn(out)
	return out, true
}

// learn picks up the objects a command's output shows were made.
func (r *runner) learn(out string) {
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimLeft(line, " ")
		if m := reIRP.FindStringSubmatch(l); m != nil {
			r.irps = append(r.irps, m[1])
		}
		if m := rePool.FindStringSubmatch(l); m != nil {
			r.pools = append(r.pools, m[2])
			n, _ := strconv.ParseUint(m[1], 10, 64)
			r.poolSize[m[2]] = n
		}
		for _, m := range reSocket.FindAllStringSubmatch(l, -1) {
			if !r.sockSeen[m[1]] {
				r.sockSeen[m[1]] = true
				r.sockets = append(r.sockets, m[1])
			}
		}
		if m := rePeer.FindStringSubmatch(l); m != nil {
			r.conns = append(r.conns, m[1])
		}
		if m := reAccepted.FindStringSubmatch(l); m != nil {
			r.conns = append(r.conns, m[1])
		}
		if m := reUDPPeer.FindStringSubmatch(l); m != nil {
			r.udpPeers = append(r.udpPeers, m[1])
		}
		if m := reCtlLen.FindStringSubmatch(l); m != nil {
			r.ctlLen = m[1]
		}
	}
}

// ref picks one of names by b, the last value meaning NULL.
func ref(names []string, b byte) string {
	k := int(b) % (len(names) + 1)
	if k == len(names) {
		return "NULL"
	}
	return names[k]
}

// refSome picks one of names, or "" when there is none.
func refSome(names []string, b byte) string {
	if len(names) == 0 {
		return ""
	}
	return names[int(b)%len(names)]
}

func last(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1]
}

func (r *runner) irp(b byte) scenarios.Arg    { return kv("irp", ref(r.irps, b)) }
func (r *runner) socket(b byte) scenarios.Arg { return kv("socket", ref(r.sockets, b)) }

// owner returns an owner= argument (nothing for NULL: the System process).
func (r *runner) owner(b byte) []scenarios.Arg {
	if p := ref(r.pids, b); p != "NULL" {
		return []scenarios.Arg{kv("owner", p)}
	}
	return nil
}

func (r *runner) client() scenarios.Arg {
	if c := last(r.clients); c != "" {
		return kv("client", c)
	}
	return kv("client", "NULL")
}

var bufLens = []string{"", "1", "3", "0xFFFFFFFFFFFFFFFF"}

// buf returns buf=/len= arguments over a pool block (or buf=NULL).
func (r *runner) buf(b, l byte) []scenarios.Arg {
	p := ref(r.pools, b)
	if p == "NULL" {
		return []scenarios.Arg{kv("buf", "NULL")}
	}
	args := []scenarios.Arg{kv("buf", p)}
	if n := pick(bufLens, l); n != "" {
		args = append(args, kv("len", n))
	}
	return args
}

var policyTable = []struct {
	id   string
	opts []string
}{
	{"P-SYNC", []string{"choice", "inline", "pending"}},
	{"P-AFTERCLOSE", []string{"refuse", "complete"}},
	{"P-CLOSE", []string{"STATUS_CANCELLED", "STATUS_FILE_FORCED_CLOSED", "STATUS_CONNECTION_ABORTED"}},
	{"P-CANCEL", []string{"choice", "cancel", "ignore"}},
	{"P-BADIRP", []string{"STATUS_INVALID_PARAMETER", "STATUS_INVALID_HANDLE"}},
	{"P-SET2", []string{"replace", "reject"}},
	{"P-SETLATE", []string{"reject", "ignore"}},
}

var controlCodes = []string{"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS", "SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS",
	"SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT", "SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE", "SIO_ADDRESS_LIST_QUERY", "0x12345678"}

var socketFlags = []string{"WSK_FLAG_CONNECTION_SOCKET", "WSK_FLAG_LISTEN_SOCKET", "WSK_FLAG_STREAM_SOCKET", "WSK_FLAG_BASIC_SOCKET", "WSK_FLAG_DATAGRAM_SOCKET"}

func (r *runner) run(op Op) {
	a := op.Args
	switch op.Code {
	case OpAllocIRP:
		if s := pick([]int{1, 1, 2, 0}, a[0]); s != 1 {
			r.exec("alloc-irp", kv("stack", strconv.Itoa(s)))
		} else {
			r.exec("alloc-irp")
		}
	case OpSetRoutine:
		f := a[1]
		args := []scenarios.Arg{r.irp(a[0])}
		if f&0x08 != 0 {
			var on []string
			for k, n := range []string{"success", "error", "cancel"} {
				if f&(1<<k) != 0 {
					on = append(on, n)
				}
			}
			if len(on) == 0 {
				on = []string{"none"}
			}
			args = append(args, scenarios.Arg{Key: "on", Vals: on})
		}
		if f&0x10 != 0 {
			args = append(args, kv("routine", "none"))
		}
		if f&0x20 != 0 {
			args = append(args, flag("free"))
		}
		if f&0x40 != 0 {
			args = append(args, flag("reuse"))
		}
		if f&0x80 != 0 && len(a) > 3 {
			if p := ref(r.pools, a[3]); p != "NULL" {
				args = append(args, scenarios.Arg{Key: "free-pool", Vals: []string{p}})
			}
		}
		if a[2]%4 == 3 {
			args = append(args, kv("return", "STATUS_SUCCESS"))
		}
		r.exec("set-routine", args...)
	case OpReuseIRP:
		args := []scenarios.Arg{r.irp(a[0])}
		if a[1]&1 != 0 {
			args = append(args, flag("rearm"))
		}
		r.exec("reuse-irp", args...)
	case OpFreeIRP:
		r.exec("free-irp", r.irp(a[0]))
	case OpCancelIRP:
		r.exec("cancel-irp", r.irp(a[0]))
	case OpAllocPool:
		args := []scenarios.Arg{kv("size", pick([]string{"16", "64", "96", "0", "1", "1024", "4096", "0xFFFFFFFFFFFFFFFF"}, a[0]))}
		if a[1]%3 == 2 {
			args = append(args, kv("tag", "Othr"))
		}
		r.exec("alloc-pool", args...)
	case OpFreePool:
		args := []scenarios.Arg{kv("pool", ref(r.pools, a[0]))}
		switch a[1] % 3 {
		case 1:
			args = append(args, kv("tag", "Wsks"))
		case 2:
			args = append(args, kv("tag", "Othr"))
		}
		r.exec("free-pool", args...)
	case OpWritePool:
		p := refSome(r.pools, a[0])
		if p == "" || r.poolSize[p] == 0 {
			return
		}
		off := uint64(a[1]) % r.poolSize[p]
		r.exec("write-pool", kv("pool", p), kv("off", strconv.FormatUint(off, 10)), kv("hex", fmt.Sprintf("%02x", a[2])))
	case OpRegistration:
		reg := last(r.regs)
		switch a[0] % 4 {
		case 0:
			name := "R" + strconv.Itoa(len(r.regs)+1)
			if _, ok := r.exec("wsk-register", kv("name", name)); !ok {
				return
			}
			r.regs = append(r.regs, name)
			r.capture(name, "WSK_INFINITE_WAIT")
		case 1:
			if reg != "" {
				r.exec("wsk-register", kv("reg", reg))
			}
		case 2:
			if reg != "" {
				r.capture(reg, "WSK_NO_WAIT")
			}
		case 3:
			if reg != "" {
				r.exec("wsk-release", kv("reg", reg))
			}
		}
	case OpProcess:
		pid := pick([]string{"500", "600", "700"}, a[0])
		args := []scenarios.Arg{kv("pid", pid)}
		if a[1]&1 != 0 {
			args = append(args, flag("elevated"))
		}
		if out, ok := r.exec("process", args...); ok && reProcess.MatchString(out) {
			r.pids = append(r.pids, pid)
		}
	case OpSocket:
		fl := pick(socketFlags, a[0])
		args := []scenarios.Arg{r.client(), kv("flags", fl)}
		if fl == "WSK_FLAG_DATAGRAM_SOCKET" {
			args = append(args, kv("type", "SOCK_DGRAM"), kv("protocol", "IPPROTO_UDP"))
		}
		args = append(args, r.owner(a[1])...)
		r.exec("wsk-socket", append(args, r.irp(a[2]))...)
	case OpSocketConnect:
		args := []scenarios.Arg{r.client(), kv("local", "0.0.0.0:0"), kv("remote", pick(remoteAddrs, a[1]))}
		args = append(args, r.owner(a[0])...)
		r.exec("wsk-socket-connect", append(args, r.irp(a[2]))...)
	case OpBind:
		r.exec("wsk-bind", r.socket(a[0]), kv("addr", pick(bindAddrs, a[1])), r.irp(a[2]))
	case OpListen:
		r.exec("wsk-listen", r.socket(a[0]), r.irp(a[1]))
	case OpConnect:
		r.exec("wsk-connect", r.socket(a[0]), kv("remote", pick(remoteAddrs, a[1])), r.irp(a[2]))
	case OpAccept:
		r.exec("wsk-accept", r.socket(a[0]), r.irp(a[1]))
	case OpSend, OpReceive:
		name := "wsk-send"
		if op.Code == OpReceive {
			name = "wsk-receive"
		}
		args := append([]scenarios.Arg{r.socket(a[0])}, r.buf(a[1], a[2])...)
		r.exec(name, append(args, r.irp(a[3]))...)
	case OpDisconnect:
		args := []scenarios.Arg{r.socket(a[0])}
		if a[1]&1 != 0 {
			args = append(args, flag("abortive"))
		}
		if a[1]&2 != 0 {
			args = append(args, r.buf(a[2], 0)...)
		}
		r.exec("wsk-disconnect", append(args, r.irp(a[3]))...)
	case OpClose:
		r.exec("wsk-close", r.socket(a[0]), r.irp(a[1]))
	case OpControl:
		args := []scenarios.Arg{r.socket(a[0]), kv("code", pick(controlCodes, a[1]))}
		args = append(args, kv("in", ref(r.pools, a[2])))
		if z := pick(sizeTable, a[3]); z != "" {
			args = append(args, kv("in-size", z))
		}
		args = append(args, kv("out", ref(r.pools, a[4])))
		if z := pick(sizeTable, a[5]); z != "" {
			args = append(args, kv("out-size", z))
		}
		if a[6]&1 != 0 {
			args = append(args, flag("osr"))
		}
		r.exec("wsk-control", append(args, r.irp(a[7]))...)
	case OpAddress:
		name := "wsk-remote-address"
		if a[1]&1 != 0 {
			name = "wsk-local-address"
		}
		r.exec(name, r.socket(a[0]), r.irp(a[2]))
	case OpRedirectPolicy:
		args := []scenarios.Arg{kv("handle", pick([]string{"P1", "P2"}, a[0])), kv("match", pick(remoteAddrs, a[1])),
			kv("to", pick(localAddrs, a[2])), kv("target-pid", pick(pids, a[3]))}
		if a[4]&1 != 0 {
			args = append(args, kv("context", "c0ffee"))
		}
		r.exec("redirect-policy", args...)
	case OpCallout:
		r.callouts++
		n := strconv.Itoa(r.callouts)
		if a[1]>>6 == 3 { // a quarter of them at ALE_BIND_REDIRECT_V4
			if _, ok := r.exec("callout", kv("name", "C"+n), kv("layer", "ALE_BIND_REDIRECT_V4"),
				kv("behaviour", pick([]string{"redirect", "permit", "block"}, a[2])), kv("local", pick(bindRewrites, a[0]))); ok {
				r.exec("filter", kv("name", "F"+n), kv("callout", "C"+n), kv("weight", strconv.Itoa(int(a[2]>>2))))
			}
			return
		}
		args := []scenarios.Arg{kv("name", "C"+n)}
		if out, ok := r.exec("redirect-handle-create", kv("name", "Hv"+n)); ok && strings.Contains(out, "(Hv"+n+")") {
			args = append(args, kv("handle", "Hv"+n))
		}
		args = append(args, kv("to", pick(localAddrs, a[0])), kv("target-pid", pick(pids, a[1])),
			kv("avoid-loop", pick([]string{"checked", "unchecked", "off"}, a[2])))
		if _, ok := r.exec("callout", args...); ok {
			r.exec("filter", kv("name", "F"+n), kv("callout", "C"+n), kv("weight", strconv.Itoa(int(a[2]>>2))))
		}
	case OpPeerListen:
		args := []scenarios.Arg{kv("process", r.process(a[0])), kv("addr", pick(append(remoteAddrs[:len(remoteAddrs):len(remoteAddrs)], localAddrs...), a[1]))}
		if out, ok := r.exec("peer-listen", args...); ok {
			if m := reListener.FindStringSubmatch(out); m != nil {
				r.listeners = append(r.listeners, m[1])
			}
		}
	case OpPeerConnect:
		r.exec("peer-connect", kv("process", r.process(a[0])), kv("to", pick(append(remoteAddrs[:len(remoteAddrs):len(remoteAddrs)], localAddrs...), a[1])))
	case OpPeerOp:
		switch a[1] % 4 {
		case 0:
			if l := refSome(r.listeners, a[0]); l != "" {
				r.exec("peer-accept", kv("listener", l))
			}
		case 1:
			if c := refSome(r.conns, a[0]); c != "" {
				r.exec("peer-send", kv("conn", c), kv("text", "GET"))
			}
		case 2, 3:
			if c := refSome(r.conns, a[0]); c != "" {
				r.exec("peer-close", kv("conn", c), kv("how", pick([]string{"graceful", "reset"}, a[1]/2)))
			}
		}
	case OpQueue:
		switch a[0] % 4 {
		case 0:
			r.exec("step")
		case 1:
			r.exec("step", kv("n", "2"))
		case 2:
			r.exec("advance", kv("by", "1us"))
		case 3:
			r.exec("run")
		}
	case OpPin:
		c := pick(choiceTable, a[0])
		v := int(a[1]) % (len(c.opts) + 1)
		if v == len(c.opts) {
			r.exec("unpin", kv("choice", c.label))
		} else {
			r.exec("pin", kv("choice", c.label), kv("value", c.opts[v]))
		}
	case OpPolicy:
		p := pick(policyTable, a[0])
		r.exec("policy", kv("id", p.id), kv("option", pick(p.opts, a[1])))
	case OpSendTo:
		args := append([]scenarios.Arg{r.socket(a[0])}, r.buf(a[1], a[1]>>4)...)
		args = append(args, kv("to", pick(udpAddrs, a[2])))
		if a[3]&1 != 0 {
			args = append(args, kv("ctl", ref(r.pools, a[3]>>2)))
			if a[3]&2 != 0 && r.ctlLen != "" {
				args = append(args, kv("ctl-len", r.ctlLen)) // forward what the last receive brought
			}
		}
		r.exec("wsk-sendto", append(args, r.irp(a[4]))...)
	case OpReceiveFrom:
		args := append([]scenarios.Arg{r.socket(a[0])}, r.buf(a[1], a[1]>>4)...)
		if a[2]&1 != 0 {
			args = append(args, kv("ctl", ref(r.pools, a[2]>>3)))
		}
		if a[2]&2 != 0 {
			args = append(args, kv("from", "NULL"))
		}
		if a[2]&4 != 0 {
			args = append(args, kv("ctl-len", "NULL"))
		}
		r.exec("wsk-receivefrom", append(args, r.irp(a[3]))...)
	case OpEvents:
		r.events(a)
	case OpPeerUDP:
		switch a[0] % 4 {
		case 0:
			r.exec("peer-udp-bind", kv("process", r.process(a[1])), kv("addr", pick(udpAddrs, a[2])))
		case 1:
			if c := refSome(r.udpPeers, a[1]); c != "" {
				r.exec("peer-sendto", kv("conn", c), kv("to", pick(udpAddrs, a[2])), kv("text", "dgram"))
			}
		case 2:
			if c := refSome(r.udpPeers, a[1]); c != "" {
				r.exec("peer-recvfrom", kv("conn", c))
			}
		case 3:
			if c := refSome(r.udpPeers, a[1]); c != "" {
				r.exec("peer-udp-close", kv("conn", c))
			}
		}
	}
}

func (r *runner) process(b byte) string {
	if p := ref(r.pids, b); p != "NULL" {
		return p
	}
	return "System"
}

func (r *runner) capture(reg, wait string) {
	name := "K" + strconv.Itoa(len(r.clients)+1)
	if out, ok := r.exec("wsk-capture", kv("reg", reg), kv("wait", wait), kv("name", name)); ok && strings.Contains(out, "("+name+")") {
		r.clients = append(r.clients, name)
	}
}

// epilogue is the liveness phase: faults off, the world run until idle,
// every socket still open closed with a fresh IRP, the world run again,
// every IRP's state printed, and the world closed.
func (r *runner) epilogue() {
	r.exec("clear-faults")
	r.exec("run")
	out, _ := r.exec("wsk-sockets")
	var open []string
	for _, l := range strings.Split(out, "\n") {
		if m := reOpenSock.FindStringSubmatch(l); m != nil {
			open = append(open, m[1])
		}
	}
	for _, s := range open {
		out, ok := r.exec("alloc-irp")
		if !ok {
			continue
		}
		m := reIRP.FindStringSubmatch(strings.TrimSpace(out))
		if m == nil {
			r.problem("liveness: alloc-irp failed with faults cleared: %q", out)
			continue
		}
		r.exec("set-routine", kv("irp", m[1]))
		r.exec("wsk-close", kv("socket", s), kv("irp", m[1]))
	}
	r.exec("run")
	for _, i := range r.irps {
		r.exec("irp", kv("irp", i))
	}
	r.model.liveness()
	r.exec("close")
}

// Scenario runs the program and prints it as a scenario file: a header
// comment, then every command it ran with its output, choices pinned by
// the seed (and by its pin commands).
func (p *Program) Scenario() string {
	return p.Run().Scenario(p)
}

// Script returns the program's commands as a scenario file with empty
// expected outputs (scenarios.Run rewrites them).
func (o *Outcome) Script(p *Program) string {
	var b strings.Builder
	b.WriteString("# A fuzz.FuzzWorld program, printed by fuzz2scenario; the seed answers every choice not pinned.\n")
	for _, line := range strings.Split(strings.TrimRight(p.String(), "\n"), "\n") {
		b.WriteString("#   " + line + "\n")
	}
	op := -1
	for _, s := range o.Steps {
		if s.Op != op {
			switch {
			case s.Op >= 0:
				fmt.Fprintf(&b, "\n# op %d: %s\n", s.Op, opNames[p.Ops[s.Op].Code])
			case s.Op == -2:
				b.WriteString("\n# liveness: faults off, run until idle, close what is open, check every IRP\n")
			}
			op = s.Op
		} else {
			b.WriteByte('\n')
		}
		b.WriteString(s.Cmd.Text())
		b.WriteString("\n----\n")
	}
	return b.String()
}

// Scenario is Script with the expected outputs filled in from this run.
func (o *Outcome) Scenario(p *Program) string {
	var b strings.Builder
	b.WriteString("# A fuzz.FuzzWorld program, printed by fuzz2scenario; the seed answers every choice not pinned.\n")
	for _, line := range strings.Split(strings.TrimRight(p.String(), "\n"), "\n") {
		b.WriteString("#   " + line + "\n")
	}
	op := -1
	for _, s := range o.Steps {
		if s.Op != op {
			switch {
			case s.Op >= 0:
				fmt.Fprintf(&b, "# op %d: %s\n", s.Op, opNames[p.Ops[s.Op].Code])
			case s.Op == -2:
				b.WriteString("# liveness: faults off, run until idle, close what is open, check every IRP\n")
			}
			op = s.Op
		}
		b.WriteString(s.Cmd.Text())
		b.WriteString("\n----\n")
		out := s.Output
		if blankLine.MatchString(out) {
			b.WriteString("----\n" + out + "----\n----\n\n")
		} else {
			b.WriteString(out + "\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var blankLine = regexp.MustCompile(`(?m)^[\t ]*\n`)
