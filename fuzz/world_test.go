package fuzz

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/fuzz/internal/corpusfile"
	"github.com/wsksim/wsksim/scenarios"
)

// FuzzWorld decodes its input as a Program (see the byte format on Program:
// a seed, a swarm of fault sites and rates, then operations across IRPs,
// pool, WSK, WFP callouts, peers, the queue and choice points), runs it
// through the scenario interpreter, and fails on any property Check holds:
// the plain model of IRP and pool rules, the SET/QUERY status classes,
// liveness, and a byte-identical trace when the printed scenario runs again.
// A panic is a failure too. `go run ./fuzz/cmd/fuzz2scenario <corpus file>`
// prints a failing input as a scenario.
func FuzzWorld(f *testing.F) {
	for _, s := range worldSeeds {
		f.Add(s.prog.Encode()) // one per seed below, committed under testdata/fuzz/FuzzWorld/<name>
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if problems := Check(data); len(problems) > 0 {
			t.Fatalf("%s\nprogram:\n%s", strings.Join(problems, "\n"), Decode(data))
		}
	})
}

func op(code byte, args ...byte) Op { return Op{Code: code, Args: args} }

// Operand values the seeds use.
const (
	all     = 0    // set-routine: a declared routine on all three outcomes
	retMPR  = 0    // ... returning STATUS_MORE_PROCESSING_REQUIRED
	rearm   = 1    // reuse-irp rearm
	connSk  = 0    // wsk-socket flags: WSK_FLAG_CONNECTION_SOCKET
	listSk  = 1    // WSK_FLAG_LISTEN_SOCKET
	dgSk    = 4    // WSK_FLAG_DATAGRAM_SOCKET
	qStep   = 0    // queue: step
	qRun    = 3    // queue: run
	zDef    = 0    // size table: the block's size
	z0      = 1    // 0
	z1      = 2    // 1
	z96     = 4    // 96 (a one-hop records blob)
	z1K     = 5    // 1024
	zMaxU   = 6    // MAXULONG
	zMaxU1  = 7    // MAXULONG+1
	zMax64  = 9    // 2^64-1
	cSet    = 0    // wsk-control code: SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS
	cQRec   = 1    // SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS
	cQCtx   = 2    // SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT
	osr     = 1    // wsk-control: a non-NULL OutputSizeReturned
	rD443   = 0    // remote 198.51.100.7:443
	rP9000  = 1    // remote 127.0.0.1:9000
	rW80    = 2    // remote 203.0.113.9:80
	bProxy  = 0    // bind 127.0.0.1:9000
	pin0    = 0    // pin: irp.completion-irql
	pinSend = 6    // pin: wsk.send.complete
	pinRecv = 7    // pin: wsk.receive.complete
	pinInl  = 0    // option inline (PASSIVE_LEVEL for the IRQL)
	pinPend = 1    // option pending
	sysProc = 0xFF // a process operand meaning "none": System (when no more than 255 processes)
)

// redirectedAccept builds the proxy's side of a redirected connection:
// registration, the proxy process (pid 500, elevated) and an application
// (pid 600), a redirect policy sending 198.51.100.7:443 to 127.0.0.1:9000
// for pid 500 with context c0ffee, the real server listening, the proxy's
// listen socket (sock1) bound (so listening), an accept (irp2) and the
// application's connect; the accepted socket is sock2. irp1 is the proxy's
// control IRP, idle with its routine set.
func redirectedAccept() []Op {
	return []Op{
		op(OpRegistration, 0),
		op(OpProcess, 0, 1), // pid 500, elevated: the proxy
		op(OpProcess, 1, 0), // pid 600: the application
		op(OpRedirectPolicy, 0, rD443, 0, 0, 1),
		op(OpPeerListen, 2, rD443), // System listens on 198.51.100.7:443
		op(OpAllocIRP, 0),          // irp1
		op(OpSetRoutine, 0, all, retMPR),
		op(OpSocket, listSk, 0, 0), // sock1, owner 500
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpBind, 0, bProxy, 0),
		op(OpQueue, qRun),
		op(OpAllocIRP, 0), // irp2
		op(OpSetRoutine, 1, all, retMPR),
		op(OpAccept, 0, 1),
		op(OpPeerConnect, 1, rD443), // the application (600) connects: redirected to the proxy
		op(OpQueue, qRun),           // sock2 accepted
	}
}

func cat(parts ...[]Op) []Op {
	var out []Op
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// worldSeeds are FuzzWorld's seeds; the committed corpus holds the same
// bytes, one file per seed (WSKSIM_WRITE_FUZZ_CORPUS=1 rewrites them).
var worldSeeds = []struct {
	name string
	prog *Program
}{
	// A transparent proxy end to end: the redirected connection is accepted,
	// the proxy QUERYs the records, SETs them on its outbound socket and
	// connects to the real destination, which its own policy now leaves alone.
	{"proxy-flow", &Program{Seed: 1, Ops: cat(redirectedAccept(), []Op{
		op(OpAllocPool, 5, 0), // pool1, 1024 bytes
		op(OpReuseIRP, 0, rearm),
		op(OpControl, 1, cQRec, 0xFF, zDef, 0, z1K, osr, 0),
		op(OpQueue, qRun),
		op(OpAllocIRP, 0), // irp3
		op(OpSetRoutine, 2, all, retMPR),
		op(OpSocket, connSk, 0, 2), // sock3, owner 500
		op(OpQueue, qRun),
		op(OpReuseIRP, 2, rearm),
		op(OpControl, 2, cSet, 0, z96, 0xFF, z0, 0, 2),
		op(OpQueue, qRun),
		op(OpReuseIRP, 2, rearm),
		op(OpBind, 2, 1, 2), // 0.0.0.0:0
		op(OpQueue, qRun),
		op(OpReuseIRP, 2, rearm),
		op(OpConnect, 2, rD443, 2),
		op(OpQueue, qRun),
		op(OpFreePool, 0, 1),
		op(OpFreeIRP, 0), op(OpFreeIRP, 1), op(OpFreeIRP, 2),
	})}},
	// SET with InputSize at and beyond MAXULONG, and 2^64-1: never allocated,
	// never successful (P-OVF).
	{"set-oversized", &Program{Seed: 2, Ops: []Op{
		op(OpRegistration, 0),
		op(OpProcess, 0, 1),
		op(OpAllocIRP, 0),
		op(OpSetRoutine, 0, all, retMPR),
		op(OpSocket, connSk, 0, 0),
		op(OpQueue, qRun),
		op(OpAllocPool, 2, 0), // 96 bytes
		op(OpReuseIRP, 0, rearm),
		op(OpControl, 0, cSet, 0, zMax64, 1, z0, 0, 0),
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpControl, 0, cSet, 0, zMaxU1, 1, z0, 0, 0),
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpControl, 0, cSet, 0, zMaxU, 1, z0, 0, 0),
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpControl, 0, cSet, 0, zMax64, 1, z0, 0, 1), // and with no IRP at all
		op(OpFreePool, 0, 0),
		op(OpFreeIRP, 0),
	}}},
	// The documented sizing probes on an accepted redirected socket: QUERY
	// with OutputSize 0 and a NULL buffer, then a one-byte buffer, then the
	// context into a buffer of the reported size.
	{"query-probe", &Program{Seed: 3, Ops: cat(redirectedAccept(), []Op{
		op(OpReuseIRP, 0, rearm),
		op(OpControl, 1, cQRec, 0xFF, zDef, 0xFF, z0, osr, 0),
		op(OpQueue, qRun),
		op(OpAllocPool, 4, 0), // pool1, 1 byte
		op(OpReuseIRP, 0, rearm),
		op(OpControl, 1, cQRec, 0xFF, zDef, 0, zDef, osr, 0),
		op(OpQueue, qRun),
		op(OpAllocPool, 0, 0), // pool2, 16 bytes
		op(OpReuseIRP, 0, rearm),
		op(OpControl, 1, cQCtx, 0xFF, zDef, 1, zDef, osr, 0),
		op(OpQueue, qRun),
		op(OpFreePool, 0, 0), op(OpFreePool, 1, 0),
		op(OpFreeIRP, 0), op(OpFreeIRP, 1),
	})}},
	// WskCloseSocket while a receive is pending on the socket: the receive
	// completes first (P-CLOSE), then the close.
	{"close-with-pending", &Program{Seed: 4, Ops: []Op{
		op(OpRegistration, 0),
		op(OpPeerListen, 0, rW80), // System listens on 203.0.113.9:80
		op(OpAllocIRP, 0),         // irp1
		op(OpSetRoutine, 0, all, retMPR),
		op(OpSocketConnect, 0xFF, rW80, 0), // sock1
		op(OpQueue, qRun),
		op(OpAllocPool, 0, 0), // pool1, 16 bytes
		op(OpAllocIRP, 0),     // irp2
		op(OpSetRoutine, 1, all, retMPR),
		op(OpReceive, 0, 0, 0, 1), // pending: nothing arrived
		op(OpReuseIRP, 0, rearm),
		op(OpClose, 0, 0),
		op(OpQueue, qRun),
		op(OpFreePool, 0, 0),
		op(OpFreeIRP, 0), op(OpFreeIRP, 1),
	}}},
	// Double frees of an IRP and of a pool block, a tag mismatch, and a NULL
	// block.
	{"double-free", &Program{Seed: 5, Ops: []Op{
		op(OpAllocIRP, 0),
		op(OpFreeIRP, 0),
		op(OpFreeIRP, 0),
		op(OpSetRoutine, 0, all, retMPR),
		op(OpAllocPool, 0, 0),
		op(OpFreePool, 0, 0),
		op(OpFreePool, 0, 0),
		op(OpWritePool, 0, 3, 0xAA),
		op(OpAllocPool, 0, 2), // tag Othr
		op(OpFreePool, 1, 1),  // freed with Wsks
		op(OpFreePool, 2, 0),  // NULL
	}}},
	// The driver writes a send buffer while the send is pending, and frees
	// it before the send completes.
	{"write-while-lent", &Program{Seed: 6, Ops: []Op{
		op(OpRegistration, 0),
		op(OpPeerListen, 0, rW80),
		op(OpAllocIRP, 0),
		op(OpSetRoutine, 0, all, retMPR),
		op(OpSocketConnect, 0xFF, rW80, 0),
		op(OpQueue, qRun),
		op(OpPin, pinSend, pinPend),
		op(OpAllocPool, 0, 0), // pool1
		op(OpAllocPool, 0, 0), // pool2
		op(OpReuseIRP, 0, rearm),
		op(OpSend, 0, 0, 0, 0),
		op(OpWritePool, 0, 1, 0x42),
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpSend, 0, 1, 0, 0),
		op(OpFreePool, 1, 0),
		op(OpQueue, qRun),
		op(OpFreePool, 0, 0),
		op(OpFreeIRP, 0),
	}}},
	// A callout at ALE_BIND_REDIRECT_V4 (operand p = 0xC0) rewrites every
	// bind to 10.0.0.1:40000; the driver binds a wildcard, reads its local
	// address and connects from there.
	{"bind-callout-rewrite", &Program{Seed: 9, Ops: []Op{
		op(OpRegistration, 0),
		op(OpCallout, 0, 0xC0, 0), // bind layer, behaviour redirect, local 10.0.0.1:40000
		op(OpPeerListen, 2, rD443),
		op(OpAllocIRP, 0),
		op(OpSetRoutine, 0, all, retMPR),
		op(OpSocket, connSk, 0, 0),
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpBind, 0, 1, 0), // 0.0.0.0:0
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpAddress, 0, 1, 0), // WskGetLocalAddress
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpConnect, 0, rD443, 0),
		op(OpQueue, qRun),
	}}},
	// The UDP proxy flow: a callout (pid 500, to 127.0.0.1:9000) redirects
	// the application's (pid 600) first datagram to 198.51.100.7:53 to the
	// proxy's datagram socket, which receives it with the records and the
	// context as control information in pool1 and forwards it with them;
	// the callout sees REDIRECTED_BY_SELF and the server gets it.
	{"udp-proxy", &Program{Seed: 11, Ops: []Op{
		op(OpRegistration, 0),
		op(OpProcess, 0, 1), // pid 500, elevated: the proxy
		op(OpProcess, 1, 0), // pid 600: the application
		op(OpCallout, 0, 0, 0),
		op(OpPeerUDP, 0, 2, 0), // System's UDP endpoint at 198.51.100.7:53 (peer1)
		op(OpPeerUDP, 0, 1, 3), // the application's at 10.0.0.1:40000 (peer2)
		op(OpAllocIRP, 0),
		op(OpSetRoutine, 0, all, retMPR),
		op(OpSocket, dgSk, 0, 0), // sock1, owner 500
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpBind, 0, bProxy, 0),
		op(OpQueue, qRun),
		op(OpAllocPool, 5, 0), // pool1, 1024 bytes
		op(OpAllocPool, 5, 0), // pool2, 1024 bytes
		op(OpReuseIRP, 0, rearm),
		op(OpReceiveFrom, 0, 1, 1, 0), // into pool2, control into pool1
		op(OpPeerUDP, 1, 1, 0),        // the application sends to 198.51.100.7:53
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpSendTo, 0, 1, 0, 3, 0), // pool2 to 198.51.100.7:53, control pool1 of the length received
		op(OpQueue, qRun),
		op(OpPeerUDP, 2, 0, 0), // the server reads it
	}}},
	// An event-driven server: a listening socket with the scenario's
	// callbacks (sock1) takes a redirected connection through
	// WskAcceptEvent (sock2), whose WskReceiveEvent retains the data
	// (STATUS_PENDING) until wsk-release-indication.
	{"event-server", &Program{Seed: 13, Ops: []Op{
		op(OpRegistration, 0),
		op(OpProcess, 0, 1), // pid 500, elevated: the proxy
		op(OpProcess, 1, 0), // pid 600: the application
		op(OpRedirectPolicy, 0, rD443, 0, 0, 1),
		op(OpAllocIRP, 0), // irp1
		op(OpSetRoutine, 0, all, retMPR),
		op(OpEvents, 0, 0, listSk), // wsk-event-socket sock1 (listening)
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpBind, 0, bProxy, 0),
		op(OpQueue, qRun),
		op(OpEvents, 1, 0, 0),       // wsk-events sock1 WSK_EVENT_ACCEPT
		op(OpPeerConnect, 1, rD443), // the application connects: redirected to sock1
		op(OpQueue, qRun),           // WskAcceptEvent: sock2
		op(OpEvents, 1, 1, 1),       // wsk-events sock2 WSK_EVENT_RECEIVE|WSK_EVENT_DISCONNECT
		op(OpEvents, 4, 1, 3),       // on-event sock2 WskReceiveEvent pending
		op(OpPeerOp, 0, 1),          // the application sends
		op(OpQueue, qRun),           // WskReceiveEvent retains di1
		op(OpEvents, 7, 1, 0),       // wsk-release-indication sock2 di1
		op(OpPeerOp, 0, 2),          // the application closes
		op(OpQueue, qRun),           // WskDisconnectEvent
	}}},
	// A callout that redirects every connect to 198.51.100.7:443 to its
	// proxy without loop avoidance; the proxy forgets to SET the records, so
	// its outbound connect is redirected to itself again.
	{"redirect-loop", &Program{Seed: 7, Ops: cat([]Op{
		op(OpRegistration, 0),
		op(OpProcess, 0, 1),
		op(OpProcess, 1, 0),
		op(OpCallout, 0, 0, 2), // to 127.0.0.1:9000 for pid 500, avoid-loop=off, weight 0
		op(OpPeerListen, 2, rD443),
		op(OpAllocIRP, 0),
		op(OpSetRoutine, 0, all, retMPR),
		op(OpSocket, listSk, 0, 0),
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpBind, 0, bProxy, 0),
		op(OpQueue, qRun),
		op(OpAllocIRP, 0),
		op(OpSetRoutine, 1, all, retMPR),
		op(OpAccept, 0, 1),
		op(OpPeerConnect, 1, rD443),
		op(OpQueue, qRun),
		op(OpAllocIRP, 0), // irp3: the proxy's outbound socket, no SET
		op(OpSetRoutine, 2, all, retMPR),
		op(OpSocketConnect, 0, rD443, 2),
		op(OpQueue, qRun),
	})}},
	// Every fault site on at high rates, and a busy program on top: the
	// swarm header at work.
	{"fault-storm", &Program{Seed: 8, Faults: []Fault{{"irp.alloc", 250}, {"pool.alloc", 250}, {"wsk.forced-close", 100}, {"wfp.record-loss", 500}},
		Ops: cat(redirectedAccept(), []Op{
			op(OpAllocPool, 5, 0),
			op(OpReuseIRP, 0, rearm),
			op(OpControl, 1, cQRec, 0xFF, zDef, 0, z1K, osr, 0),
			op(OpCancelIRP, 0),
			op(OpQueue, qRun),
			op(OpSend, 1, 0, 1, 0),
			op(OpPeerOp, 0, 3),
			op(OpQueue, qStep),
		})}},
	// A completion routine that breaks the rules: returns STATUS_SUCCESS for
	// a driver-allocated IRP, frees a pool block lent to its own call, and
	// frees its IRP; then the IRP is used after free.
	{"routine-misuse", &Program{Seed: 9, Ops: []Op{
		op(OpRegistration, 0),
		op(OpAllocPool, 0, 0),
		op(OpAllocIRP, 0),
		op(OpSetRoutine, 0, 0x80|0x20, 3, 0), // free, free-pool=(pool1), returns STATUS_SUCCESS
		op(OpSocket, connSk, 0xFF, 0),
		op(OpQueue, qRun),
		op(OpReuseIRP, 0, rearm),
		op(OpCancelIRP, 0),
	}}},
}

// TestWorldSeeds runs every seed: no property may fail, the printed scenario
// must parse and run with no mismatch, and the committed corpus must hold
// the seeds' bytes.
func TestWorldSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzWorld")
	write := os.Getenv("WSKSIM_WRITE_FUZZ_CORPUS") != ""
	for _, s := range worldSeeds {
		t.Run(s.name, func(t *testing.T) {
			data := s.prog.Encode()
			if problems := Check(data); len(problems) > 0 {
				t.Errorf("%s", strings.Join(problems, "\n"))
			}
			o := s.prog.Run()
			if o.Dropped > 0 {
				t.Errorf("%d command(s) dropped: %v", o.Dropped, o.Errors)
			}
			text := o.Scenario(s.prog)
			res, err := scenarios.Run(s.name+".txt", strings.NewReader(text), scenarios.Options{MaxEvents: maxEvents})
			if err != nil {
				t.Fatalf("printed scenario: %v\n%s", err, text)
			}
			if !res.OK() {
				t.Errorf("printed scenario: %s", res.Mismatches[0].FirstDifference())
			}
			// The same text with empty expectations, rewritten by the scenarios API.
			res2, err := scenarios.Run(s.name+".txt", strings.NewReader(o.Script(s.prog)), scenarios.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res2.Commands != len(o.Steps) {
				t.Errorf("script ran %d commands, want %d", res2.Commands, len(o.Steps))
			}
			file := filepath.Join(dir, s.name)
			want := corpusFile(data)
			if write {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (WSKSIM_WRITE_FUZZ_CORPUS=1 go test ./fuzz -run TestWorldSeeds writes it)", err)
			}
			raw, err := corpusfile.Raw(file, got)
			if err != nil {
				t.Fatal(err)
			}
			if string(raw) != string(data) {
				t.Errorf("%s holds other bytes than the seed (WSKSIM_WRITE_FUZZ_CORPUS=1 rewrites it)", file)
			}
			if testing.Verbose() {
				t.Logf("%s", text)
			}
		})
	}
}

func corpusFile(data []byte) string {
	return fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
}

// TestDecodeEncode holds Encode to be Decode's inverse on the seeds.
func TestDecodeEncode(t *testing.T) {
	for _, s := range worldSeeds {
		b := s.prog.Encode()
		if got := Decode(b).Encode(); string(got) != string(b) {
			t.Errorf("%s: Decode(Encode(p)).Encode() = %x, want %x", s.name, got, b)
		}
	}
}

// TestSeedStories: some seeds tell a story whose key lines their printed
// scenario must show (the operand encodings they rely on work).
func TestSeedStories(t *testing.T) {
	stories := map[string][]string{
		// OpCallout with p>>6 == 3 declares the callout at ALE_BIND_REDIRECT_V4,
		// and its rewrite reaches the socket.
		"bind-callout-rewrite": {"layer=ALE_BIND_REDIRECT_V4 behaviour=redirect local=10.0.0.1:40000", "LocalAddress=10.0.0.1:40000", "local 10.0.0.1:40000, remote 198.51.100.7:443"},
		// The UDP proxy receives the records as control information and
		// forwards them (OpSendTo c bit 1: the length received).
		// OpEvents: a connection taken by WskAcceptEvent, data retained by
		// WskReceiveEvent and released, the graceful WskDisconnectEvent.
		"event-server": {"callback WskAcceptEvent(SocketContext=sock1", "-> STATUS_PENDING", "WskRelease(Socket=sock2, DataIndication=di1) -> STATUS_SUCCESS", "callback WskDisconnectEvent(SocketContext=sock2"},
		"udp-proxy":    {"Control=[IPPROTO_IP/IP_WFP_REDIRECT_RECORDS 96 bytes]", "ctl=pool1 ctl-len=112", "FWPS_CONNECTION_REDIRECTED_BY_SELF", "peer1 received 1024 bytes from 127.0.0.1:9000"},
	}
	for _, s := range worldSeeds {
		want, ok := stories[s.name]
		if !ok {
			continue
		}
		delete(stories, s.name)
		text := s.prog.Run().Scenario(s.prog)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the printed scenario lacks %q:\n%s", s.name, w, text)
			}
		}
	}
	for name := range stories {
		t.Errorf("no seed %s", name)
	}
}
