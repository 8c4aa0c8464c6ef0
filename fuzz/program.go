package fuzz

import (
	"fmt"
	"strings"
)

// A Program is what FuzzWorld's bytes decode into: a seed, a swarm of fault
// sites with their rates, and a list of operations across IRPs, pool, WSK,
// WFP callouts, scripted peers, the world's queue and its choice points.
// Run executes it through the scenario language's interpreter, so that the
// program prints back (Scenario) as exactly the scenario it ran.
//
// # Byte format
//
// A cursor reads the input one byte at a time; past the end it reads 0.
//
//	bytes 0-1  seed, big-endian: the program starts with `seed value=N`, and every
//	           choice point not pinned is answered by that seed's PRNG
//	byte  2    swarm mask: bit k switches fault site k on, of
//	           [irp.alloc pool.alloc wsk.forced-close wfp.record-loss]
//	           (wsk.forced-close also sets P-FORCED=inject, wfp.record-loss P-LOSS=on);
//	           bits 4-7 are ignored
//	then       one byte per site switched on, in that order: its rate per mille,
//	           [1 5 20 50 100 250 500 1000][b%8] (`fault site=S rate=R`)
//	then       operations, at most MaxOps: an opcode byte taken modulo NumOps, then
//	           its operands (a table of them is below)
//
// Operands that pick an object take one byte modulo (objects so far + 1); the
// last value means NULL (for IRPs, pool blocks, sockets, processes) or "none".
// Objects are picked from everything the program made, freed or closed ones
// included, so use after free is reachable. Tables are indexed modulo their
// length.
//
//	op  command                    operands
//	 0  alloc-irp                  s: StackSize [1 1 2 0][s]
//	 1  set-routine                i f r [b]: f bit 3 set: on= is bits 0-2 (success, error,
//	                               cancel), else all three; bit 4 routine=none; bit 5 free; bit 6
//	                               reuse; bit 7 free-pool=(b), which reads b; r: return
//	                               [MORE_PROCESSING_REQUIRED x3, STATUS_SUCCESS][r]
//	 2  reuse-irp                  i r: r bit 0 rearm
//	 3  free-irp                   i
//	 4  cancel-irp                 i
//	 5  alloc-pool                 z t: size [16 64 96 0 1 1024 4096 2^64-1][z], tag [Wsks Wsks Othr][t]
//	 6  free-pool                  b h: [ExFreePool, ExFreePoolWithTag Wsks, ... Othr][h]
//	 7  write-pool                 b o v: one byte v at offset o % size (skipped for size 0)
//	 8  registration               k: [wsk-register + wsk-capture WSK_INFINITE_WAIT, register the
//	                               last registration again, capture again, wsk-release][k]
//	 9  process                    p e: pid [500 600 700][p], e bit 0 elevated
//	10  wsk-socket                 c o i: flags [CONNECTION LISTEN STREAM BASIC DATAGRAM][c],
//	                               owner o (a process or NULL), irp i
//	11  wsk-socket-connect         o a i: owner, remote address a (table R), irp
//	12  wsk-bind                   s a i: local address [127.0.0.1:9000 0.0.0.0:0 10.0.0.1:0
//	                               127.0.0.1:9100 NULL][a]
//	13  wsk-listen                 s i
//	14  wsk-connect                s a i: remote address a (table R)
//	15  wsk-accept                 s i
//	16  wsk-send                   s b l i: buffer b, length [whole 1 3 2^64-1][l]
//	17  wsk-receive                s b l i: as wsk-send
//	18  wsk-disconnect             s f b i: f bit 0 abortive, bit 1 with buffer b
//	19  wsk-close                  s i
//	20  wsk-control                s k ib isz ob osz f i: code [SET QUERY_RECORDS QUERY_CONTEXT
//	                               ALE_ENDPOINT_HANDLE SIO_ADDRESS_LIST_QUERY 0x12345678][k];
//	                               in block ib, InputSize (table Z), out block ob, OutputSize
//	                               (table Z), f bit 0 a non-NULL OutputSizeReturned, irp i
//	21  wsk-local/remote-address   s l i: l bit 0 local
//	22  redirect-policy            h m t p c: handle [P1 P2][h], match (table R), to (table L),
//	                               target pid [500 600 4][p], c bit 0 context c0ffee
//	23  callout that redirects     t p f: redirect-handle-create, callout behaviour=redirect to
//	                               (table L) for pid [500 600 4][p] with avoid-loop
//	                               [checked unchecked off][f%3], filter weight f>>2; when
//	                               p>>6 == 3, a callout at ALE_BIND_REDIRECT_V4 instead:
//	                               behaviour [redirect permit block][f] (redirect rewrites the
//	                               bind's localAddressAndPort to table B'[t])
//	24  peer-listen                p a: process p (or System), address (table R + L)
//	25  peer-connect               p a: process p (or System), to (table R + L)
//	26  peer operation             c k: k [peer-accept on listener c, peer-send text=GET on
//	                               connection c, peer-close graceful, peer-close reset][k]
//	27  the queue                  k: [step, step n=2, advance by=1us, run][k]
//	28  pin                        c v: choice point (table C) to option v % (options + 1),
//	                               the last meaning unpin
//	29  policy                     d o: policy [P-SYNC P-AFTERCLOSE P-CLOSE P-CANCEL P-BADIRP
//	                               P-SET2 P-SETLATE][d], option o (see policyTable)
//	30  wsk-sendto                 s b t c i: buffer b, length [whole 1 3 2^64-1][b>>4], to (table U),
//	                               c bit 0 with control information: pool c>>2, of its whole size,
//	                               or, with bit 1, the ControlLength the last receive showed
//	31  wsk-receivefrom            s b c i: buffer as for 30, c bit 0 ControlInfo pool c>>3 (its size),
//	                               bit 1 RemoteAddress NULL, bit 2 ControlLength NULL
//	32  peer UDP                   k e a: k [peer-udp-bind process e at (table U), peer-sendto
//	                               from endpoint e to (table U), peer-recvfrom e, peer-udp-close
//	                               e][k%4]
//	33  event callbacks            k s v: k [wsk-event-socket flags [CONNECTION LISTEN STREAM
//	                               BASIC DATAGRAM][v] irp s, wsk-events socket s mask (table E)[v],
//	                               the same with irp v>>4, on-event WskAcceptEvent [accept
//	                               refuse][v], on-event WskReceiveEvent [all 1 not-accepted
//	                               pending][v], on-event WskReceiveFromEvent [take not-accepted
//	                               pending][v], wsk-static-events mask (table E)[v],
//	                               wsk-release-indication socket s indication di(v%4+1)][k%8]
//
//	E  event masks       [ACCEPT RECEIVE|DISCONNECT RECEIVE_FROM SEND_BACKLOG ACCEPT|DISABLE
//	                      RECEIVE|DISABLE 0x400]
//	R  remote addresses  [198.51.100.7:443 127.0.0.1:9000 203.0.113.9:80 127.0.0.1:9100]
//	L  local targets     [127.0.0.1:9000 127.0.0.1:9100]
//	Z  sizes             [the block's (argument left out) 0 1 32 96 1024 MAXULONG MAXULONG+1
//	                      2^63 2^64-1]
//	C  choice points     irp.completion-irql and the wsk.*.complete points, wsk.send.partial,
//	                     wsk.receive.partial, wsk.cancel, wfp.filter-tie (see choiceTable)
//
// After the operations Run appends the liveness epilogue: clear-faults, run,
// wsk-close (with a fresh IRP) of every socket still open, run, an `irp`
// command for every IRP, and close.
type Program struct {
	Seed   uint16
	Faults []Fault
	Ops    []Op
}

// Fault is a fault site switched on by the swarm header.
type Fault struct {
	Site     string
	PerMille int
}

// Op is one decoded operation: an opcode and its operand bytes.
type Op struct {
	Code byte
	Args []byte
}

// MaxOps bounds the operations a program runs.
const MaxOps = 64

// Opcodes.
const (
	OpAllocIRP byte = iota
	OpSetRoutine
	OpReuseIRP
	OpFreeIRP
	OpCancelIRP
	OpAllocPool
	OpFreePool
	OpWritePool
	OpRegistration
	OpProcess
	OpSocket
	OpSocketConnect
	OpBind
	OpListen
	OpConnect
	OpAccept
	OpSend
	OpReceive
	OpDisconnect
	OpClose
	OpControl
	OpAddress
	OpRedirectPolicy
	OpCallout
	OpPeerListen
	OpPeerConnect
	OpPeerOp
	OpQueue
	OpPin
	OpPolicy
	OpSendTo
	OpReceiveFrom
	OpPeerUDP
	OpEvents
	NumOps
)

// operands is how many operand bytes each opcode takes (set-routine may take
// one more, see Decode).
var operands = [NumOps]int{
	OpAllocIRP: 1, OpSetRoutine: 3, OpReuseIRP: 2, OpFreeIRP: 1, OpCancelIRP: 1,
	OpAllocPool: 2, OpFreePool: 2, OpWritePool: 3, OpRegistration: 1, OpProcess: 2,
	OpSocket: 3, OpSocketConnect: 3, OpBind: 3, OpListen: 2, OpConnect: 3, OpAccept: 2,
	OpSend: 4, OpReceive: 4, OpDisconnect: 4, OpClose: 2, OpControl: 8, OpAddress: 3,
	OpRedirectPolicy: 5, OpCallout: 3, OpPeerListen: 2, OpPeerConnect: 2, OpPeerOp: 2,
	OpQueue: 1, OpPin: 2, OpPolicy: 2, OpSendTo: 5, OpReceiveFrom: 4, OpPeerUDP: 3, OpEvents: 3,
}

var opNames = [NumOps]string{
	"alloc-irp", "set-routine", "reuse-irp", "free-irp", "cancel-irp", "alloc-pool", "free-pool",
	"write-pool", "registration", "process", "wsk-socket", "wsk-socket-connect", "wsk-bind",
	"wsk-listen", "wsk-connect", "wsk-accept", "wsk-send", "wsk-receive", "wsk-disconnect",
	"wsk-close", "wsk-control", "wsk-address", "redirect-policy", "callout", "peer-listen",
	"peer-connect", "peer-op", "queue", "pin", "policy", "wsk-sendto", "wsk-receivefrom", "peer-udp",
	"events",
}

// swarmSites are the fault sites the swarm header switches, bit k for site k.
var swarmSites = []string{"irp.alloc", "pool.alloc", "wsk.forced-close", "wfp.record-loss"}

var swarmRates = []int{1, 5, 20, 50, 100, 250, 500, 1000}

type cursor struct {
	b   []byte
	pos int
}

func (c *cursor) next() byte {
	if c.pos >= len(c.b) {
		c.pos++
		return 0
	}
	v := c.b[c.pos]
	c.pos++
	return v
}

func (c *cursor) done() bool { return c.pos >= len(c.b) }

// Decode turns fuzz bytes into a program. Every input decodes.
func Decode(data []byte) *Program {
	c := &cursor{b: data}
	p := &Program{}
	p.Seed = uint16(c.next())<<8 | uint16(c.next())
	mask := c.next()
	for k, site := range swarmSites {
		if mask&(1<<k) != 0 {
			p.Faults = append(p.Faults, Fault{Site: site, PerMille: swarmRates[int(c.next())%len(swarmRates)]})
		}
	}
	for !c.done() && len(p.Ops) < MaxOps {
		code := c.next() % NumOps
		n := operands[code]
		args := make([]byte, 0, n+1)
		for k := 0; k < n; k++ {
			args = append(args, c.next())
		}
		if code == OpSetRoutine && args[1]&0x80 != 0 {
			args = append(args, c.next())
		}
		p.Ops = append(p.Ops, Op{Code: code, Args: args})
	}
	return p
}

// Encode is Decode's inverse, for writing seeds: it lays a program out as bytes.
func (p *Program) Encode() []byte {
	b := []byte{byte(p.Seed >> 8), byte(p.Seed)}
	var mask byte
	var rates []byte
	for k, site := range swarmSites {
		for _, f := range p.Faults {
			if f.Site == site {
				mask |= 1 << k
				r := 0
				for j, v := range swarmRates {
					if v <= f.PerMille {
						r = j
					}
				}
				rates = append(rates, byte(r))
			}
		}
	}
	b = append(b, mask)
	b = append(b, rates...)
	for _, op := range p.Ops {
		b = append(b, op.Code)
		b = append(b, op.Args...)
	}
	return b
}

// String lists the program one operation a line (for failure reports).
func (p *Program) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d", p.Seed)
	for _, f := range p.Faults {
		fmt.Fprintf(&b, ", fault %s %d‰", f.Site, f.PerMille)
	}
	b.WriteByte('\n')
	for k, op := range p.Ops {
		fmt.Fprintf(&b, "%2d %s %v\n", k, opNames[op.Code], op.Args)
	}
	return b.String()
}

func pick[T any](table []T, b byte) T { return table[int(b)%len(table)] }

var (
	remoteAddrs = []string{"198.51.100.7:443", "127.0.0.1:9000", "203.0.113.9:80", "127.0.0.1:9100"}
	localAddrs  = []string{"127.0.0.1:9000", "127.0.0.1:9100"}
	bindAddrs   = []string{"127.0.0.1:9000", "0.0.0.0:0", "10.0.0.1:0", "127.0.0.1:9100", "NULL"}
	sizeTable   = []string{"", "0", "1", "32", "96", "1024", "0xFFFFFFFF", "0x100000000", "0x8000000000000000", "0xFFFFFFFFFFFFFFFF"}
	pids        = []string{"500", "600", "4"}
	// udpAddrs (table U) are datagram endpoints: remote services, the
	// machine's addresses, a local proxy port.
	udpAddrs = []string{"198.51.100.7:53", "10.0.0.1:5000", "127.0.0.1:5300", "10.0.0.1:40000"}
	// bindRewrites (table B') is where a bind-layer callout moves a bind.
	bindRewrites = []string{"10.0.0.1:40000", "127.0.0.1:9000", "10.0.0.1:0"}
	// choiceTable is the choice points OpPin pins, with their option names.
	choiceTable = []struct {
		label string
		opts  []string
	}{
		{"irp.completion-irql", []string{"PASSIVE_LEVEL", "DISPATCH_LEVEL"}},
		{"wsk.socket.complete", []string{"inline", "pending"}},
		{"wsk.bind.complete", []string{"inline", "pending"}},
		{"wsk.listen.complete", []string{"inline", "pending"}},
		{"wsk.connect.complete", []string{"inline", "pending"}},
		{"wsk.accept.complete", []string{"inline", "pending"}},
		{"wsk.send.complete", []string{"inline", "pending"}},
		{"wsk.receive.complete", []string{"inline", "pending"}},
		{"wsk.disconnect.complete", []string{"inline", "pending"}},
		{"wsk.close.complete", []string{"inline", "pending"}},
		{"wsk.address.complete", []string{"inline", "pending"}},
		{"wsk.control.complete", []string{"inline", "pending"}},
		{"wsk.send.partial", []string{"full", "partial"}},
		{"wsk.receive.partial", []string{"full", "partial"}},
		{"wsk.cancel", []string{"cancel", "ignore"}},
		{"wfp.filter-tie", []string{"after", "before"}},
	}
)
