package wfp

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// Behaviour bits of a fuzzed callout.
const (
	fbQuery = 1 << iota
	fbAcquire
	fbModify
	fbPID
	fbHandle
	fbContext
	fbSkipApply
	fbOtherPtr
	fbNoRelease
	fbPend
	fbPendInline
	fbBlock
	fbIgnoreRight
	fbReauth
	fbAuthLayer
	fbChangeLocal
)

type byteReader struct {
	data []byte
	pos  int
}

func (r *byteReader) byte() byte {
	if r.pos >= len(r.data) {
		return 0
	}
	r.pos++
	return r.data[r.pos-1]
}

func (r *byteReader) u16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }

// FuzzClassify runs byte programs of callouts (each breaking or keeping the
// contract at chosen points) and connects (apps, proxies with and without
// records, flows ending, pended classifies completed late). The engine must
// never panic, keep Begin/End balanced, and give results that are
// consistent: a redirect changes the destination, issued records are valid
// for the target process and bounded by MaxHops.
func FuzzClassify(f *testing.F) {
	f.Add([]byte{1, 0x3f, 0, 0, 1, 0, 1})
	f.Add([]byte{2, 0x3f, 0, 0x3f, 0x20, 0, 1, 2, 1, 0, 2, 2, 2})
	f.Add([]byte{1, 0x3e, 0x02, 0, 2, 2, 2, 2, 2, 2, 2, 2})
	f.Add([]byte{1, 0x3f, 0x00, 0, 4, 0, 4, 3, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &byteReader{data: data}
		w := sim.NewWorld(sim.Config{Seed: 1, Chooser: sim.NewByteChooser(data)})
		e := NewEngine(w)
		type fc struct {
			bits uint16
			h    *RedirectHandle
			to   netip.AddrPort
			pid  uint32
			ctx  *RedirectContext
		}
		var pended []uint64
		n := 1 + int(r.byte()%3)
		var fcs []*fc
		for i := 0; i < n; i++ {
			c := &fc{bits: r.u16(), to: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(9000+i)), pid: uint32(2000 + i)}
			e.FwpsRedirectHandleCreate0(&GUID{}, 0, &c.h)
			layer := FWPS_LAYER_ALE_CONNECT_REDIRECT_V4
			if c.bits&fbAuthLayer != 0 {
				layer = FWPS_LAYER_ALE_AUTH_CONNECT_V4
			}
			callout, _ := e.RegisterCallout("f", layer, func(cl *Classify) {
				b := c.bits
				if cl.Out.Rights&FWPS_RIGHT_ACTION_WRITE == 0 && b&fbIgnoreRight == 0 {
					return
				}
				if b&fbQuery != 0 {
					var ctx *RedirectContext
					st := e.FwpsQueryConnectionRedirectState0(cl.Meta.RedirectRecords, c.h, &ctx)
					_ = ctx.Bytes()
					if st == FWPS_CONNECTION_REDIRECTED_BY_SELF || st == FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF {
						return
					}
				}
				if b&fbAcquire == 0 {
					if b&fbBlock != 0 {
						cl.Out.ActionType = FWP_ACTION_BLOCK
					}
					return
				}
				var ch uint64
				if e.FwpsAcquireClassifyHandle0(cl.ClassifyContext, 0, &ch) != nt.STATUS_SUCCESS {
					return
				}
				if b&(fbPend|fbPendInline) != 0 {
					e.FwpsPendClassify0(ch, cl.Filter.FilterId, 0, cl.Out)
				}
				var v *FWPS_CONNECT_REQUEST0
				if b&fbPend == 0 && e.FwpsAcquireWritableLayerDataPointer0(ch, cl.Filter.FilterId, 0, &v, cl.Out) == nt.STATUS_SUCCESS {
					if b&fbModify != 0 {
						v.RemoteAddressAndPort = c.to
					}
					if b&fbPID != 0 {
						v.LocalRedirectTargetPID = c.pid
					}
					if b&fbHandle != 0 {
						v.LocalRedirectHandle = c.h
					}
					if b&fbChangeLocal != 0 {
						v.LocalAddressAndPort = c.to
					}
					if b&fbContext != 0 {
						c.ctx = e.AllocateRedirectContext([]byte{byte(c.pid)})
						v.LocalRedirectContext = c.ctx
					}
					var fl uint32
					if b&fbReauth != 0 {
						fl = FWPS_CLASSIFY_FLAG_REAUTHORIZE_IF_MODIFIED_BY_OTHERS
					}
					switch {
					case b&fbSkipApply != 0:
					case b&fbOtherPtr != 0:
						cp := *v
						e.FwpsApplyModifiedLayerData0(ch, &cp, fl)
					default:
						e.FwpsApplyModifiedLayerData0(ch, v, fl)
					}
				}
				act := FWP_ACTION_PERMIT
				if b&fbBlock != 0 {
					act = FWP_ACTION_BLOCK
				}
				if b&fbPendInline != 0 {
					e.FwpsCompleteClassify0(ch, 0, &ClassifyOut{ActionType: act, Rights: FWPS_RIGHT_ACTION_WRITE})
				} else if b&fbPend == 0 {
					cl.Out.ActionType = act
				}
				if b&fbPend != 0 {
					pended = append(pended, ch)
				} else if b&fbNoRelease == 0 {
					e.FwpsReleaseClassifyHandle0(ch)
				}
			})
			e.AddFilter(Filter{Name: "f", Callout: callout, Weight: uint64(r.byte() % 4)})
			fcs = append(fcs, c)
		}
		if r.byte()&1 != 0 {
			e.AddRedirectPolicy("HP", origDest, netip.MustParseAddrPort("127.0.0.1:9100"), []byte{1}, 4)
		}
		var flows []FlowID
		var last ConnectResult
		check := func(req *ConnectRequest, res *ConnectResult) {
			if res.Blocked {
				return
			}
			if res.Redirected == (res.Remote == req.Remote) {
				t.Fatalf("redirected=%v but remote %v -> %v", res.Redirected, req.Remote, res.Remote)
			}
			if !res.Redirected && (res.Records != nil || res.Context != nil) {
				t.Fatalf("records/context on a connection that was not redirected: %+v", res)
			}
			if res.Records != nil {
				if st := e.CheckRecords(res.Records, res.TargetPID); st != nt.STATUS_SUCCESS {
					t.Fatalf("issued records rejected: %v", st)
				}
				if len(res.Records) > MaxRecordsSize {
					t.Fatalf("records of %d bytes", len(res.Records))
				}
			}
			flows = append(flows, res.Flow)
		}
		for steps := 0; r.pos < len(r.data) && steps < 64; steps++ {
			if f, ok := w.Current(); ok {
				t.Fatalf("frame %s still open between operations", f.Fn)
			}
			var req ConnectRequest
			switch op := r.byte() % 6; op {
			case 0:
				req = ConnectRequest{Socket: "app", ProcessID: appPID, Remote: origDest}
			case 1, 2:
				req = ConnectRequest{Socket: "proxy", ProcessID: last.TargetPID, Remote: origDest}
				if op == 1 {
					req.Records = last.Records
				}
			case 3:
				if len(flows) > 0 {
					i := int(r.byte()) % len(flows)
					e.EndFlow(flows[i])
				}
				continue
			case 4:
				if len(pended) > 0 {
					ch := pended[0]
					pended = pended[1:]
					e.FwpsCompleteClassify0(ch, 0, &ClassifyOut{ActionType: FWP_ACTION_PERMIT, Rights: FWPS_RIGHT_ACTION_WRITE})
					e.FwpsReleaseClassifyHandle0(ch)
				}
				continue
			case 5:
				for _, c := range fcs {
					if r.byte()&1 != 0 {
						c.ctx.Free()
					}
				}
				continue
			}
			var res *ConnectResult
			e.ClassifyConnectAsync(&req, func(cr *ConnectResult) { res = cr; check(&req, cr) })
			if res != nil {
				last = *res
				if last.Records != nil {
					last.Records = bytes.Clone(last.Records)
				}
			}
		}
		for _, c := range fcs {
			e.FwpsRedirectHandleDestroy0(c.h)
		}
		w.Close()
		for _, v := range w.Violations() {
			if _, ok := sim.LookupRule(v.Rule); !ok {
				t.Fatalf("unregistered rule %s", v.Rule)
			}
		}
	})
}
