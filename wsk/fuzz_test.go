package wsk_test

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

// Fuzz argument layout.
//
// mode bits: 0 IRP present, 1 InputBuffer present, 2 OutputBuffer present,
// 3 OutputSizeReturned present, 4 the input block holds real records,
// 5..7 block size class (size = class*96 bytes, so class 1 fits one hop).
// state: which socket the call is made on (see fuzzSocket).
// choices: bytes for the ByteChooser (inline/pending, completion IRQL, cancel).
const (
	fzIRP = 1 << iota
	fzIn
	fzOut
	fzOSR
	fzRealRecords
)

// fuzzSocket returns the socket for a state byte: 0 fresh connection socket,
// 1 bound, 2 connected, 3 accepted side of a redirected connection, 4
// listening, 5 basic, 6 datagram, 7 stream, 8 closed, 9 NULL, 10 owned by a
// non-elevated process, 11 IPv6 connection socket.
func fuzzSocket(e *env, state uint8) (*wsk.Socket, []*wsk.Socket) {
	var keep []*wsk.Socket
	mk := func(af uint16, flags uint32, owner *wsk.Process) *wsk.Socket {
		s := e.socket(af, flags, owner)
		keep = append(keep, s)
		return s
	}
	switch state % 12 {
	case 1:
		s := mk(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		e.bind(s, "0.0.0.0:0")
		return s, keep
	case 2:
		e.p.PeerListen(e.p.System(), ap("127.0.0.1:7777"))
		s := mk(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		e.bind(s, "0.0.0.0:0")
		e.connect(s, "127.0.0.1:7777")
		return s, keep
	case 3:
		ls := mk(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
		e.bind(ls, "127.0.0.1:9000")
		e.p.RedirectedConnect("app", ap("10.0.0.1:50000"), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", []byte("ctx"), wsk.SystemPID)
		in := e.accept(ls)
		keep = append(keep, in)
		return in, keep
	case 4:
		ls := mk(nt.AF_INET, nt.WSK_FLAG_LISTEN_SOCKET, nil)
		e.bind(ls, "127.0.0.1:9001")
		return ls, keep
	case 5:
		return mk(nt.AF_INET, nt.WSK_FLAG_BASIC_SOCKET, nil), keep
	case 6:
		return mk(nt.AF_INET, nt.WSK_FLAG_DATAGRAM_SOCKET, nil), keep
	case 7:
		return mk(nt.AF_INET, nt.WSK_FLAG_STREAM_SOCKET, nil), keep
	case 8:
		s := e.socket(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil)
		e.close(s)
		return s, keep
	case 9:
		return nil, keep
	case 10:
		pr, _ := e.p.AddProcess(900, "user.exe", false)
		return mk(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, pr), keep
	case 11:
		return mk(nt.AF_INET6, nt.WSK_FLAG_CONNECTION_SOCKET, nil), keep
	}
	return mk(nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET, nil), keep
}

func FuzzControlSocket(f *testing.F) {
	// A few seeds inline; the named ones live in testdata/fuzz/FuzzControlSocket.
	f.Add(uint8(nt.WskIoctl), nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, uint32(0), uint64(96), uint64(0), uint8(fzIRP|fzIn|fzRealRecords|1<<5), uint8(0), []byte{0, 0})
	f.Add(uint8(nt.WskIoctl), nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, uint32(0), uint64(0), uint64(0), uint8(fzIRP|fzOSR), uint8(3), []byte{1, 1})
	f.Fuzz(func(t *testing.T, rt uint8, code uint32, level uint32, inSize uint64, outSize uint64, mode uint8, state uint8, choices []byte) {
		e := newEnvChooser(t, sim.NewByteChooser(choices))
		s, keep := fuzzSocket(e, state)
		class := uint64(mode >> 5)
		var in, out *irp.Block
		if mode&fzIn != 0 {
			in = e.pool(nil, int(class*96))
			if mode&fzRealRecords != 0 && class > 0 {
				copy(in.Bytes(), e.issue(wsk.SystemPID))
			}
		}
		if mode&fzOut != 0 {
			out = e.pool(nil, int(class*96))
		}
		var osr uint64
		var osrp *uint64
		if mode&fzOSR != 0 {
			osrp = &osr
		}
		var i *irp.IRP
		if mode&fzIRP != 0 {
			i = e.newIRP()
		}
		huge := inSize > 1<<20 || outSize > 1<<20
		var m0, m1 runtime.MemStats
		if huge {
			runtime.ReadMemStats(&m0)
		}
		requestType := nt.ControlSocketType(rt % 5) // includes WskControlMax and one beyond
		ret := e.p.WskControlSocket(s, requestType, code, level, inSize, in, outSize, out, osrp, i)
		if huge {
			runtime.ReadMemStats(&m1)
			if d := m1.TotalAlloc - m0.TotalAlloc; d > 1<<20 {
				t.Fatalf("WskControlSocket allocated %d bytes for claimed sizes %d/%d", d, inSize, outSize)
			}
		}
		call := wsk.ControlCall(requestType, code)
		if !wsk.StatusAllowed(call, ret) {
			t.Fatalf("%s returned undocumented %v", call, ret)
		}
		if err := e.w.RunUntilIdle(); err != nil {
			t.Fatal(err)
		}
		if i != nil {
			cs := e.completionsOf(i)
			switch {
			case len(cs) > 1:
				t.Fatalf("%s completed %d times", i.Name(), len(cs))
			case i.InFlight():
				t.Fatalf("%s still in flight after the world ran idle (return %v)", i.Name(), ret)
			case ret == nt.STATUS_PENDING && len(cs) != 1:
				t.Fatalf("returned STATUS_PENDING but %s never completed", i.Name())
			case len(cs) == 1 && ret != nt.STATUS_PENDING && ret != cs[0].status:
				t.Fatalf("returned %v, completed with %v", ret, cs[0].status)
			case len(cs) == 1 && !wsk.StatusAllowed(call, cs[0].status):
				t.Fatalf("%s completed with undocumented %v", call, cs[0].status)
			}
			e.m.IoFreeIrp(i)
		}
		for _, k := range keep {
			if !k.Closed() {
				e.close(k)
			}
		}
		if in != nil {
			e.free(in)
		}
		if out != nil {
			e.free(out)
		}
		e.p.WskReleaseProviderNPI(e.reg)
		e.p.WskDeregister(e.reg)
		e.w.RunUntilIdle()
		e.w.Close()
		for _, v := range e.w.Violations() {
			switch v.Rule {
			case wsk.RuleDeregisterHang, wsk.RuleSocketLeak, irp.RuleLeak, irp.RulePoolLeak:
				t.Fatalf("harness cleanup left state behind: %v", v)
			}
		}
	})
}

// newEnvChooser is newEnv with a given chooser.
func newEnvChooser(t testing.TB, c sim.Chooser) *env {
	return newEnv(t, func(sc *sim.Config, _ *wsk.Config) { sc.Chooser = c })
}

var _ = netip.AddrPort{}
