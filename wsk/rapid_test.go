package wsk_test

import (
	"bytes"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

// rapidChooser answers every choice point with a rapid draw labelled by the
// choice point, so shrinking works per label.
type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) Choose(label string, n int) int { return rapid.IntRange(0, n-1).Draw(c.t, label) }

// modelSock is the plain model of one socket.
type modelSock struct {
	s         *wsk.Socket
	accepted  bool   // accepted side of a redirected connection
	records   []byte // model of what SET stored (nil: none)
	gen       int    // bumped by every successful SET
	connected bool   // WskConnect issued
	wantRec   []byte // accepted: what QUERY_RECORDS must answer
	wantCtx   []byte // accepted: what QUERY_CONTEXT must answer
	pendSets  int    // SETs not yet completed
}

// submission is one IRP handed to a call.
type submission struct {
	call     string
	i        *irp.IRP
	ret      nt.Status
	expect   nt.Status // the model's status (0: not predicted)
	ms       *modelSock
	setBlob  []byte // SET: the blob
	setGen   int    // SET: model generation after it
	comps    []completion
	consumed bool
}

type storeMachine struct {
	e      *env
	socks  []*modelSock
	ls     *wsk.Socket
	subs   []*submission
	byIRP  map[*irp.IRP]*submission
	blobs  [][]byte
	nextIn int
}

func (m *storeMachine) routine(i *irp.IRP, _ any) nt.Status {
	sub := m.byIRP[i]
	sub.comps = append(sub.comps, completion{irp: i, status: i.IoStatus.Status, info: i.IoStatus.Information, pending: i.PendingReturned})
	m.onComplete(sub)
	return nt.STATUS_MORE_PROCESSING_REQUIRED
}

func (m *storeMachine) onComplete(sub *submission) {
	c := sub.comps[len(sub.comps)-1]
	if sub.setBlob != nil && sub.ms != nil {
		sub.ms.pendSets--
		if c.status == nt.STATUS_CANCELLED && sub.expect == nt.STATUS_SUCCESS && sub.ms.gen == sub.setGen {
			sub.ms.records = nil // a cancelled SET takes its records back
		}
	}
}

func (m *storeMachine) irp(call string, ms *modelSock) *submission {
	i := m.e.m.IoAllocateIrp(1, false)
	m.e.m.IoSetCompletionRoutine(i, m.routine, nil, true, true, true)
	sub := &submission{call: call, i: i, ms: ms}
	m.subs = append(m.subs, sub)
	m.byIRP[i] = sub
	return sub
}

func (m *storeMachine) pick(t *rapid.T, pred func(*modelSock) bool) *modelSock {
	var c []*modelSock
	for _, ms := range m.socks {
		if !ms.s.Closed() && pred(ms) {
			c = append(c, ms)
		}
	}
	if len(c) == 0 {
		t.Skip("no socket")
	}
	return rapid.SampledFrom(c).Draw(t, "socket")
}

func (m *storeMachine) init(t *rapid.T) {
	w := sim.NewWorld(sim.Config{Seed: 1, Chooser: rapidChooser{t}})
	mg := irp.NewManager(w)
	p, err := wsk.NewProvider(mg, wsk.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, w: w, m: mg, p: p, reg: new(wsk.Registration)}
	p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, e.reg)
	p.WskCaptureProviderNPI(e.reg, nt.WSK_NO_WAIT, &e.npi)
	m.e = e
	m.byIRP = map[*irp.IRP]*submission{}
	// Blobs issued for the System process, which owns every socket here.
	for k := 0; k < 3; k++ {
		m.blobs = append(m.blobs, e.issue(wsk.SystemPID))
	}
	p.PeerListen(p.System(), ap("127.0.0.1:7777"))
	sub := m.irp("WskSocket", nil)
	p.WskSocket(e.npi.Client, nt.AF_INET, nt.SOCK_STREAM, 0, nt.WSK_FLAG_LISTEN_SOCKET, nil, nil, nil, nil, nil, sub.i)
	w.RunUntilIdle()
	m.ls = p.SocketFromInformation(sub.comps[0].info)
	sub = m.irp("WskBind", nil)
	p.WskBind(m.ls, ap("127.0.0.1:9000"), 0, sub.i)
	w.RunUntilIdle()
}

func (m *storeMachine) NewSocket(t *rapid.T) {
	sub := m.irp("WskSocket", nil)
	sub.ret = m.e.p.WskSocket(m.e.npi.Client, nt.AF_INET, nt.SOCK_STREAM, 0, nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, sub.i)
	sub.expect = nt.STATUS_SUCCESS
	m.e.w.RunUntilIdle()
	s := m.e.p.SocketFromInformation(sub.comps[0].info)
	if s == nil {
		t.Fatalf("WskSocket: Information %d names no socket", sub.comps[0].info)
	}
	m.socks = append(m.socks, &modelSock{s: s})
}

func (m *storeMachine) Redirect(t *rapid.T) {
	ctx := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "context")
	m.nextIn++
	if _, err := m.e.p.RedirectedConnect("", ap(fmt.Sprintf("10.0.0.1:%d", 40000+m.nextIn)), ap("198.51.100.7:443"), ap("127.0.0.1:9000"), "H1", ctx, wsk.SystemPID); err != nil {
		t.Skip(err.Error())
	}
	sub := m.irp("WskAccept", nil)
	sub.ret = m.e.p.WskAccept(m.ls, 0, nil, nil, nil, nil, sub.i)
	sub.expect = nt.STATUS_SUCCESS
	m.e.w.RunUntilIdle()
	s := m.e.p.SocketFromInformation(sub.comps[0].info)
	ms := &modelSock{s: s, accepted: true, wantCtx: ctx}
	// The records the engine issued: read them once through the probe pattern
	// and check they are a real blob for the System process.
	var need uint64
	q := m.irp("QUERY", ms)
	m.e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, 0, nil, &need, q.i)
	q.expect = nt.STATUS_BUFFER_TOO_SMALL
	m.e.w.RunUntilIdle()
	b := m.e.pool(nil, int(need))
	q = m.irp("QUERY", ms)
	m.e.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, need, b, &need, q.i)
	q.expect = nt.STATUS_SUCCESS
	m.e.w.RunUntilIdle()
	ms.wantRec = append([]byte(nil), b.Bytes()...)
	m.e.free(b)
	if st := m.e.p.Engine().CheckRecords(ms.wantRec, wsk.SystemPID); st != nt.STATUS_SUCCESS {
		t.Fatalf("queried records do not check: %v", st)
	}
	m.blobs = append(m.blobs, ms.wantRec)
	m.socks = append(m.socks, ms)
}

func (m *storeMachine) Set(t *rapid.T) {
	ms := m.pick(t, func(ms *modelSock) bool { return !ms.accepted })
	blob := rapid.SampledFrom(m.blobs).Draw(t, "blob")
	kind := rapid.IntRange(0, 2).Draw(t, "kind") // 0 valid, 1 forged, 2 truncated
	data := append([]byte(nil), blob...)
	size := uint64(len(data))
	expect := nt.STATUS_SUCCESS
	switch {
	case ms.connected:
		expect = nt.STATUS_INVALID_DEVICE_STATE
	case kind == 1:
		data[len(data)-1] ^= 0x55
		expect = nt.STATUS_ACCESS_DENIED
	case kind == 2:
		size--
		expect = nt.STATUS_INVALID_PARAMETER
	}
	b := m.e.pool(data, len(data))
	sub := m.irp("SET", ms)
	sub.expect, sub.setBlob = expect, data
	if expect == nt.STATUS_SUCCESS {
		ms.records = data
		ms.gen++
		sub.setGen = ms.gen
	}
	ms.pendSets++
	sub.ret = m.e.p.WskControlSocket(ms.s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, size, b, 0, nil, nil, sub.i)
	// The block must stay valid until completion: free it from a task after idle.
	m.e.w.Schedule(1<<40, sim.TaskFunc(func() { m.e.free(b) }))
}

func (m *storeMachine) Query(t *rapid.T) {
	ms := m.pick(t, func(ms *modelSock) bool { return true })
	ctx := rapid.Bool().Draw(t, "context")
	code, want := nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, ms.wantRec
	if ctx {
		code, want = nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, ms.wantCtx
	}
	size := rapid.IntRange(0, 300).Draw(t, "size")
	var b *irp.Block
	if size > 0 {
		b = m.e.pool(nil, size)
	}
	var osr uint64
	sub := m.irp("QUERY", ms)
	switch {
	case !ms.accepted || len(want) == 0:
		sub.expect = nt.STATUS_NOT_FOUND
	case size < len(want):
		sub.expect = nt.STATUS_BUFFER_TOO_SMALL
	default:
		sub.expect = nt.STATUS_SUCCESS
	}
	sub.ret = m.e.p.WskControlSocket(ms.s, nt.WskIoctl, code, 0, 0, nil, uint64(size), b, &osr, sub.i)
	m.e.w.RunUntilIdle()
	c := sub.comps[len(sub.comps)-1]
	if c.status == nt.STATUS_SUCCESS {
		if !bytes.Equal(b.Bytes()[:c.info], want) || osr != uint64(len(want)) {
			t.Fatalf("QUERY answered %x (osr %d), want %x", b.Bytes()[:c.info], osr, want)
		}
	}
	if c.status == nt.STATUS_BUFFER_TOO_SMALL && osr != uint64(len(want)) {
		t.Fatalf("BUFFER_TOO_SMALL with OutputSizeReturned %d, want %d", osr, len(want))
	}
	if b != nil {
		m.e.free(b)
	}
}

func (m *storeMachine) Connect(t *rapid.T) {
	ms := m.pick(t, func(ms *modelSock) bool { return !ms.accepted && !ms.connected })
	sub := m.irp("WskBind", ms)
	m.e.p.WskBind(ms.s, ap("0.0.0.0:0"), 0, sub.i)
	sub = m.irp("WskConnect", ms)
	sub.ret = m.e.p.WskConnect(ms.s, ap("127.0.0.1:7777"), 0, sub.i)
	sub.expect = nt.STATUS_SUCCESS
	ms.connected = true
}

func (m *storeMachine) Cancel(t *rapid.T) {
	var c []*submission
	for _, s := range m.subs {
		if s.i.InFlight() {
			c = append(c, s)
		}
	}
	if len(c) == 0 {
		t.Skip("nothing pending")
	}
	m.e.m.IoCancelIrp(rapid.SampledFrom(c).Draw(t, "irp").i)
}

func (m *storeMachine) Step(t *rapid.T) { m.e.w.Step() }

func (m *storeMachine) Close(t *rapid.T) {
	ms := m.pick(t, func(*modelSock) bool { return true })
	sub := m.irp("WskCloseSocket", ms)
	sub.ret = m.e.p.WskCloseSocket(ms.s, sub.i)
	sub.expect = nt.STATUS_SUCCESS
}

func (m *storeMachine) Check(t *rapid.T) {
	for _, sub := range m.subs {
		if len(sub.comps) > 1 {
			t.Fatalf("%s (%s) completed %d times", sub.i.Name(), sub.call, len(sub.comps))
		}
		for _, c := range sub.comps {
			if sub.expect != 0 && c.status != sub.expect && c.status != nt.STATUS_CANCELLED {
				t.Fatalf("%s %s completed with %v, model says %v", sub.call, sub.i.Name(), c.status, sub.expect)
			}
			if sub.ret != nt.STATUS_PENDING && sub.ret != 0 && sub.ret != c.status {
				t.Fatalf("%s returned %v, completed %v", sub.call, sub.ret, c.status)
			}
		}
	}
	for _, ms := range m.socks {
		if ms.s.Closed() || ms.pendSets > 0 {
			continue
		}
		if !bytes.Equal(ms.s.Records(), ms.records) {
			t.Fatalf("%s holds records %x, model %x", ms.s.Name(), ms.s.Records(), ms.records)
		}
	}
}

func (m *storeMachine) cleanup(t *rapid.T) {
	for _, ms := range m.socks {
		if !ms.s.Closed() {
			sub := m.irp("WskCloseSocket", ms)
			m.e.p.WskCloseSocket(ms.s, sub.i)
		}
	}
	sub := m.irp("WskCloseSocket", nil)
	m.e.p.WskCloseSocket(m.ls, sub.i)
	if err := m.e.w.RunUntilIdle(); err != nil {
		t.Fatal(err)
	}
	for _, s := range m.subs {
		if len(s.comps) != 1 {
			t.Fatalf("%s (%s) completed %d times by the time the world ran idle", s.i.Name(), s.call, len(s.comps))
		}
		m.e.m.IoFreeIrp(s.i)
	}
	m.e.p.WskReleaseProviderNPI(m.e.reg)
	m.e.p.WskDeregister(m.e.reg)
	m.e.w.Close()
	for _, v := range m.e.w.Violations() {
		if v.Rule != wsk.RuleSetAfterConnect && v.Rule != "WFP-PROXY-LOOP" {
			t.Fatalf("unexpected violation: %v", v)
		}
	}
}

func TestStoreStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &storeMachine{}
		m.init(t)
		t.Repeat(rapid.StateMachineActions(m))
		m.cleanup(t)
	})
}
