package trace

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
	"github.com/wsksim/wsksim/wsk"
	"pgregory.net/rapid"
)

func replayBytes(t interface{ Fatal(...any) }, b []byte) *Report {
	rep, err := Replay(bytes.NewReader(b), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func rulesOf(vs []sim.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

func reportRules(r *Report) []string {
	var out []string
	for _, v := range r.Violations {
		out = append(out, v.Rule)
	}
	return out
}

// TestRoundTripClean replays the traces the model writes of the conforming
// programs (gen_test.go) under 20 seeds: the seed decides every choice
// point, the replay must follow the trace and conform (exit 0).
func TestRoundTripClean(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		for _, name := range sortedKeys(conformingPrograms) {
			if name == "wsk-cancel-control" {
				continue // pins its own choices
			}
			out := withSeed(seed, conformingPrograms[name])
			rep := replayBytes(t, out)
			if rep.Verdict != Conforms {
				var txt bytes.Buffer
				rep.WriteText(&txt)
				t.Fatalf("%s seed %d: Replay verdict %v, want conforms\n%s\ntrace:\n%s", name, seed, rep.Verdict, txt.String(), out)
			}
		}
	}
}

// TestRoundTripRapid runs random WSK programs (sockets of every category,
// binds, listens, peers connecting and sending, accepts, connects, sends,
// receives, options, redirect queries, cancels, closes, IRP and pool misuse)
// on the model and replays their traces: the replay must conform (exit 0)
// when the model saw no violation, and report exactly the model's
// violations (exit 3) otherwise.
func TestRoundTripRapid(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		seed := rapid.Uint64().Draw(rt, "seed")
		d := newDrv(fmt.Sprintf("rapid seed %d", seed), seed, nil).start()
		var socks, listeners, conns []*wsk.Socket
		var peers []*wsk.PeerConn
		var udpPeer *wsk.PeerUDP
		var dgSock *wsk.Socket
		var irps []*irp.IRP
		irps = append(irps, d.i)
		blocks := []*irp.Block{}
		ports := []string{"127.0.0.1:7100", "127.0.0.1:7101", "10.0.0.1:7102"}
		pick := func(l []*wsk.Socket, label string) *wsk.Socket {
			if len(l) == 0 {
				return nil
			}
			return l[rapid.IntRange(0, len(l)-1).Draw(rt, label)]
		}
		freeIRP := func() *irp.IRP {
			for _, i := range irps {
				if !i.InFlight() && !i.Freed() {
					d.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
					d.m.IoSetCompletionRoutine(i, d.rtn, nil, true, true, true)
					return i
				}
			}
			i := d.m.IoAllocateIrp(1, false)
			if i == nil {
				return nil
			}
			irps = append(irps, i)
			d.m.IoSetCompletionRoutine(i, d.rtn, nil, true, true, true)
			return i
		}
		block := func() *irp.Block {
			b := d.pool(uint64(rapid.IntRange(1, 64).Draw(rt, "size")))
			if b != nil {
				blocks = append(blocks, b)
			}
			return b
		}
		calloutDrivers(rt, d)
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for s := 0; s < steps; s++ {
			i := freeIRP()
			if i == nil {
				continue
			}
			switch rapid.IntRange(0, 17).Draw(rt, "op") {
			case 0:
				fl := rapid.SampledFrom([]uint32{nt.WSK_FLAG_LISTEN_SOCKET, nt.WSK_FLAG_CONNECTION_SOCKET, nt.WSK_FLAG_STREAM_SOCKET, nt.WSK_FLAG_BASIC_SOCKET}).Draw(rt, "flags")
				d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, fl, nil, nil, nil, nil, nil, i)
				for i.InFlight() && d.w.Step() {
				}
				if sk := d.p.SocketFromInformation(i.IoStatus.Information); sk != nil && i.IoStatus.Status.IsSuccess() {
					socks = append(socks, sk)
					if fl == nt.WSK_FLAG_LISTEN_SOCKET {
						listeners = append(listeners, sk)
					}
				}
			case 1:
				if sk := pick(socks, "sock"); sk != nil {
					addr := rapid.SampledFrom(append(ports, "0.0.0.0:0")).Draw(rt, "addr")
					d.p.WskBind(sk, ap(addr), 0, i)
				}
			case 2:
				if sk := pick(socks, "sock"); sk != nil {
					d.p.WskListen(sk, i)
					listeners = append(listeners, sk)
				}
			case 3:
				if pc, st, _ := d.p.PeerConnect(d.peer, netip0, ap(rapid.SampledFrom(ports).Draw(rt, "to"))); pc != nil && st == nt.STATUS_SUCCESS {
					peers = append(peers, pc)
				}
			case 4:
				if ls := pick(listeners, "listener"); ls != nil {
					d.p.WskAccept(ls, 0, nil, nil, nil, nil, i)
					for i.InFlight() && d.w.Step() {
					}
					if sk := d.p.SocketFromInformation(i.IoStatus.Information); sk != nil && i.IoStatus.Status.IsSuccess() {
						socks = append(socks, sk)
						conns = append(conns, sk)
					}
				}
			case 5:
				_, _ = d.p.PeerListen(d.peer, ap(rapid.SampledFrom([]string{"198.51.100.7:443", "198.51.100.7:80"}).Draw(rt, "remote")))
			case 6:
				if sk := pick(socks, "sock"); sk != nil {
					d.p.WskConnect(sk, ap(rapid.SampledFrom([]string{"198.51.100.7:443", "127.0.0.1:7100"}).Draw(rt, "remote")), 0, i)
					conns = append(conns, sk)
				}
			case 7:
				if sk := pick(conns, "conn"); sk != nil {
					if b := block(); b != nil {
						d.p.WskSend(sk, &wsk.Buf{Block: b, Length: b.Size()}, 0, i)
					}
				}
			case 8:
				if sk := pick(conns, "conn"); sk != nil {
					if b := block(); b != nil {
						d.p.WskReceive(sk, &wsk.Buf{Block: b, Length: b.Size()}, 0, i)
					}
				}
			case 9:
				if len(peers) > 0 {
					pc := peers[rapid.IntRange(0, len(peers)-1).Draw(rt, "peer")]
					if rapid.Bool().Draw(rt, "close") {
						pc.Close()
					} else {
						_ = pc.Send([]byte("data"))
					}
				}
			case 10:
				if sk := pick(socks, "sock"); sk != nil {
					out := block()
					var osr uint64
					code := rapid.SampledFrom([]uint32{nt.SO_REUSEADDR, nt.SO_EXCLUSIVEADDRUSE}).Draw(rt, "opt")
					if out != nil {
						d.p.WskControlSocket(sk, nt.WskGetOption, code, nt.SOL_SOCKET, 0, nil, out.Size(), out, &osr, i)
					}
				}
			case 11:
				if sk := pick(socks, "sock"); sk != nil {
					var osr uint64
					d.p.WskControlSocket(sk, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 0, nil, &osr, i)
				}
			case 12:
				if sk := pick(socks, "sock"); sk != nil {
					d.p.WskCloseSocket(sk, i)
				}
			case 13:
				for _, j := range irps {
					if j.InFlight() {
						d.m.IoCancelIrp(j)
						break
					}
				}
			case 14:
				if ls := pick(listeners, "listener"); ls != nil && !ls.Closed() && ls.Category() == wsk.CategoryListen && ls.LocalAddr().Port() != 0 && !ls.LocalAddr().Addr().IsUnspecified() {
					_, _ = d.p.RedirectedConnect("", ap("192.0.2.10:50000"), ap("198.51.100.7:443"), ls.LocalAddr(), "H1", []byte{1}, wsk.SystemPID)
				}
			case 15:
				d.w.Step()
			case 16:
				// A passed-down IRP (env irp_dispatch): maybe given to a
				// WskSocket, then completed back (maybe while in flight, with
				// STATUS_PENDING, or twice).
				p, err := d.m.NewPassedDownIrp(rapid.IntRange(0, 2).Draw(rt, "stack"))
				if err != nil {
					rt.Fatal(err)
				}
				if rapid.Bool().Draw(rt, "pdUse") {
					d.m.IoSetCompletionRoutine(p, d.rtn, nil, true, true, true)
					d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, p)
					if rapid.Bool().Draw(rt, "pdWait") {
						for p.InFlight() && d.w.Step() {
						}
					}
					if sk := d.p.SocketFromInformation(p.IoStatus.Information); sk != nil && !p.InFlight() && p.IoStatus.Status.IsSuccess() {
						socks = append(socks, sk)
					}
				}
				for n := rapid.IntRange(0, 2).Draw(rt, "pdCompletes"); n > 0; n-- {
					d.m.IoCompleteRequest(p, rapid.SampledFrom([]nt.Status{nt.STATUS_SUCCESS, nt.STATUS_CANCELLED, nt.STATUS_PENDING}).Draw(rt, "pdStatus"), 0)
				}
			case 17:
				// Datagrams: a datagram socket (bound or not), a remote UDP
				// endpoint, sends both ways, receives of random sizes.
				if udpPeer == nil {
					udpPeer, _ = d.p.PeerUDPBind(d.peer, ap("198.51.100.7:53"))
				}
				if dgSock == nil {
					d.p.WskSocket(d.npi.Client, nt.AF_INET, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, nil, nil, nil, nil, nil, i)
					for i.InFlight() && d.w.Step() {
					}
					if sk := d.p.SocketFromInformation(i.IoStatus.Information); sk != nil && i.IoStatus.Status.IsSuccess() {
						dgSock = sk
						socks = append(socks, sk)
					}
					break
				}
				to := udpPeer.Local()
				switch rapid.IntRange(0, 3).Draw(rt, "dgOp") {
				case 0:
					d.p.WskBind(dgSock, ap(rapid.SampledFrom([]string{"10.0.0.1:5000", "10.0.0.1:0"}).Draw(rt, "dgAddr")), 0, i)
				case 1:
					if b := block(); b != nil {
						d.p.WskSendTo(dgSock, &wsk.Buf{Block: b, Length: b.Size()}, 0, &to, 0, nil, i)
					}
				case 2:
					if b := block(); b != nil {
						from := new(netip.AddrPort)
						var fl uint32
						d.p.WskReceiveFrom(dgSock, &wsk.Buf{Block: b, Length: b.Size()}, 0, from, nil, nil, &fl, i)
					}
				case 3:
					if dgSock.LocalAddr().IsValid() {
						_, _ = udpPeer.SendTo(dgSock.LocalAddr(), []byte(rapid.StringN(0, 40, 40).Draw(rt, "dgData")))
					}
				}
			}
		}
		d.w.RunUntilIdle()
		for _, sk := range socks {
			if !sk.Closed() {
				i := freeIRP()
				if i == nil {
					break
				}
				d.p.WskCloseSocket(sk, i)
				d.w.RunUntilIdle()
			}
		}
		for _, b := range blocks {
			if !b.Freed() && !b.Lent() {
				d.m.ExFreePool(b)
			}
		}
		for _, j := range irps {
			if !j.Freed() && !j.InFlight() {
				d.m.IoFreeIrp(j)
			}
		}
		d.p.WskReleaseProviderNPI(&d.reg)
		d.p.WskDeregister(&d.reg)
		out := d.end()
		rep := replayBytes(rt, out)
		var txt bytes.Buffer
		rep.WriteText(&txt)
		modelRules := rulesOf(endsAtBugCheck(d.w.Violations(), rep))
		if rep.Verdict == Diverges || fmt.Sprint(withoutLeaks(reportRules(rep))) != fmt.Sprint(withoutLeaks(modelRules)) || countLeaks(reportRules(rep)) > countLeaks(modelRules) {
			rt.Fatalf("Replay violations %v, model's %v\n%s\ntrace:\n%s", reportRules(rep), modelRules, txt.String(), out)
		}
		want := Conforms
		if len(rep.Violations) > 0 {
			want = Violations
		}
		if rep.Verdict != want {
			rt.Fatalf("Replay verdict %v, want %v\n%s\ntrace:\n%s", rep.Verdict, want, txt.String(), out)
		}
	})
}

// calloutDrivers registers, when the draw says so, a callout at
// ALE_BIND_REDIRECT_V4 and one at ALE_CONNECT_REDIRECT_V4 whose classifyFns
// decide each classify by a draw: permit, block, rewrite the bind's local
// address or redirect the connect (applied, or acquired and never applied).
func calloutDrivers(rt *rapid.T, d *drv) {
	if rapid.Bool().Draw(rt, "bindCallout") {
		co, _ := d.e.RegisterCallout("B1", wfp.FWPS_LAYER_ALE_BIND_REDIRECT_V4, func(c *wfp.Classify) {
			act := rapid.SampledFrom([]string{"permit", "block", "rewrite", "rewrite-noapply"}).Draw(rt, "bindAction")
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
			switch act {
			case "block":
				c.Out.ActionType = wfp.FWP_ACTION_BLOCK
			case "rewrite", "rewrite-noapply":
				var ch uint64
				if c.Engine.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
					return
				}
				var v *wfp.FWPS_BIND_REQUEST0
				if c.Engine.FwpsAcquireWritableLayerDataPointer0Bind(ch, c.Filter.FilterId, 0, &v, c.Out) == nt.STATUS_SUCCESS {
					v.LocalAddressAndPort = ap(rapid.SampledFrom([]string{"10.0.0.1:40000", "127.0.0.1:7100", "10.0.0.1:0"}).Draw(rt, "bindTo"))
					if act == "rewrite" {
						c.Engine.FwpsApplyModifiedLayerData0Bind(ch, v, 0)
					}
					c.Out.ActionType = wfp.FWP_ACTION_PERMIT
				}
				c.Engine.FwpsReleaseClassifyHandle0(ch)
			}
		})
		_, _ = d.e.AddFilter(wfp.Filter{Name: "B1", Callout: co, Weight: 10})
	}
	if rapid.Bool().Draw(rt, "connectCallout") {
		co, _ := d.e.RegisterCallout("C1", wfp.FWPS_LAYER_ALE_CONNECT_REDIRECT_V4, func(c *wfp.Classify) {
			act := rapid.SampledFrom([]string{"permit", "block", "redirect"}).Draw(rt, "connectAction")
			c.Out.ActionType = wfp.FWP_ACTION_PERMIT
			switch act {
			case "block":
				c.Out.ActionType = wfp.FWP_ACTION_BLOCK
			case "redirect":
				var ch uint64
				if c.Engine.FwpsAcquireClassifyHandle0(c.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
					return
				}
				var v *wfp.FWPS_CONNECT_REQUEST0
				if c.Engine.FwpsAcquireWritableLayerDataPointer0(ch, c.Filter.FilterId, 0, &v, c.Out) == nt.STATUS_SUCCESS {
					v.RemoteAddressAndPort = ap("127.0.0.1:7100")
					v.LocalRedirectTargetPID = wsk.SystemPID
					c.Engine.FwpsApplyModifiedLayerData0(ch, v, 0)
					c.Out.ActionType = wfp.FWP_ACTION_PERMIT
				}
				c.Engine.FwpsReleaseClassifyHandle0(ch)
			}
		})
		_, _ = d.e.AddFilter(wfp.Filter{Name: "C1", Callout: co, Weight: 10})
	}
}

// endsAtBugCheck drops the model's end-of-run violations (found at Close,
// outside any call) after its last bug-check violation when the replay says
// the trace ends there: Windows stopped at the bug check, so nothing after
// it (leaks) happened.
func endsAtBugCheck(vs []sim.Violation, rep *Report) []sim.Violation {
	ends := false
	for _, n := range rep.Notes {
		if strings.HasPrefix(n, "the trace ends at seq ") && strings.Contains(n, "bug-checks") {
			ends = true
		}
	}
	if !ends {
		return vs
	}
	for k := len(vs) - 1; k >= 0; k-- {
		if vs[k].BugCheck != "" && vs[k].Seq != 0 {
			return vs[:k+1]
		}
		if vs[k].Seq != 0 {
			break
		}
	}
	return vs
}

func withoutLeaks(rs []string) (out []string) {
	for _, r := range rs {
		if r != "IRP-LEAK" {
			out = append(out, r)
		}
	}
	return out
}

func countLeaks(rs []string) int { return len(rs) - len(withoutLeaks(rs)) }
