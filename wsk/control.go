package wsk

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wfp"
)

// irpMode says whether a control request takes an IRP (WskControlSocket:
// "per option/IOCTL it is required, optional, or must be NULL").
type irpMode uint8

const (
	irpOptional irpMode = iota
	irpRequired
	irpMustBeNull
)

type ctlInfo struct {
	name    string
	mode    irpMode
	passive bool // documented PASSIVE_LEVEL
	known   bool // modelled beyond the IRP and IRQL rules
}

// ioctlInfo describes the IOCTL codes the model knows.
func ioctlInfo(code uint32) (ctlInfo, bool) {
	switch code {
	case nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS:
		return ctlInfo{"SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS", irpRequired, true, true}, true
	case nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS:
		return ctlInfo{"SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS", irpRequired, true, true}, true
	case nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT:
		return ctlInfo{"SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT", irpRequired, true, true}, true
	case nt.SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE:
		return ctlInfo{"SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE", irpOptional, false, true}, true
	case nt.SIO_ADDRESS_LIST_QUERY:
		return ctlInfo{"SIO_ADDRESS_LIST_QUERY", irpMustBeNull, true, false}, true
	case nt.SIO_ADDRESS_LIST_CHANGE:
		return ctlInfo{"SIO_ADDRESS_LIST_CHANGE", irpRequired, true, false}, true
	case nt.SIO_ADDRESS_LIST_SORT:
		return ctlInfo{"SIO_ADDRESS_LIST_SORT", irpOptional, true, false}, true
	case nt.SIO_WSK_SET_REMOTE_ADDRESS:
		return ctlInfo{"SIO_WSK_SET_REMOTE_ADDRESS", irpRequired, false, false}, true
	case nt.SIO_WSK_REGISTER_EXTENSION:
		return ctlInfo{"SIO_WSK_REGISTER_EXTENSION", irpMustBeNull, false, false}, true
	case nt.SIO_WSK_QUERY_IDEAL_SEND_BACKLOG:
		return ctlInfo{"SIO_WSK_QUERY_IDEAL_SEND_BACKLOG", irpRequired, false, false}, true
	case nt.SIO_WSK_QUERY_RECEIVE_BACKLOG:
		return ctlInfo{"SIO_WSK_QUERY_RECEIVE_BACKLOG", irpRequired, false, false}, true
	case nt.SIO_WSK_QUERY_INSPECT_ID:
		return ctlInfo{"SIO_WSK_QUERY_INSPECT_ID", irpRequired, false, false}, true
	case nt.SIO_WSK_SET_SENDTO_ADDRESS:
		return ctlInfo{"SIO_WSK_SET_SENDTO_ADDRESS", irpRequired, false, false}, true
	case nt.SIO_WSK_SET_TCP_SILENT_MODE:
		return ctlInfo{"SIO_WSK_SET_TCP_SILENT_MODE", irpRequired, false, false}, true
	}
	return ctlInfo{}, false
}

// optionInfo describes the socket options the model knows.
func optionInfo(level, code uint32) (ctlInfo, bool) {
	switch {
	case level == nt.SOL_SOCKET && code == nt.SO_REUSEADDR:
		return ctlInfo{"SO_REUSEADDR", irpRequired, false, true}, true
	case level == nt.SOL_SOCKET && code == nt.SO_EXCLUSIVEADDRUSE:
		return ctlInfo{"SO_EXCLUSIVEADDRUSE", irpRequired, false, true}, true
	case level == nt.IPPROTO_IPV6 && code == nt.IPV6_V6ONLY:
		return ctlInfo{"IPV6_V6ONLY", irpOptional, false, true}, true
	case level == nt.SOL_SOCKET && code == nt.SO_WSK_EVENT_CALLBACK:
		return ctlInfo{"SO_WSK_EVENT_CALLBACK", irpOptional, false, true}, true
	case level == nt.SOL_SOCKET && code == nt.SO_WSK_SECURITY:
		return ctlInfo{"SO_WSK_SECURITY", irpRequired, false, false}, true
	}
	return ctlInfo{}, false
}

func levelValue(l uint32) sim.Value {
	switch l {
	case nt.SOL_SOCKET:
		return sim.Str("SOL_SOCKET")
	case nt.IPPROTO_IPV6:
		return sim.Str("IPPROTO_IPV6")
	case nt.IPPROTO_TCP:
		return sim.Str("IPPROTO_TCP")
	}
	return sim.Int(uint64(l))
}

func blockValue(b *irp.Block, size uint64, withData bool) sim.Value {
	if b == nil {
		return sim.Null()
	}
	if withData && !b.Freed() && size <= b.Size() {
		return sim.Hex(b.Bytes()[:size], b.Name())
	}
	return sim.Len(size, b.Name())
}

// WskControlSocket models WskControlSocket (IRQL <= DISPATCH_LEVEL; the
// WFP redirect IOCTLs and the address-list IOCTLs PASSIVE_LEVEL). The
// buffers are pool blocks; InputSize and OutputSize are SIZE_T and are
// checked against the blocks (and, for the WFP IOCTLs, against MAXULONG,
// policy P-OVF) before anything is lent or copied. With an IRP the result
// is in IoStatus (Information = bytes placed in OutputBuffer) and the return
// is STATUS_PENDING or the same status; *outputSizeReturned is written when
// the IRP completes. Without one the call completes synchronously.
//
// Supported: WskSetOption/WskGetOption SO_REUSEADDR, SO_EXCLUSIVEADDRUSE
// (SOL_SOCKET) and IPV6_V6ONLY (IPPROTO_IPV6); WskIoctl
// SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS,
// SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS,
// SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT and
// SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE. Other known codes get their IRP and
// IRQL rules checked and then the P-UNKNOWN status, like unknown codes.
func (p *Provider) WskControlSocket(s *Socket, requestType nt.ControlSocketType, controlCode, level uint32,
	inputSize uint64, inputBuffer *irp.Block, outputSize uint64, outputBuffer *irp.Block, outputSizeReturned *uint64, i *irp.IRP) nt.Status {
	f := p.w.Begin("WskControlSocket")
	var info ctlInfo
	known := false
	switch requestType {
	case nt.WskIoctl:
		info, known = ioctlInfo(controlCode)
	case nt.WskSetOption, nt.WskGetOption:
		info, known = optionInfo(level, controlCode)
	}
	k := controlKey(requestType, controlCode)
	if p.w.Tracing() {
		code := sim.Int(uint64(controlCode))
		if known {
			code = sim.Str(info.name)
		}
		rt := sim.Int(uint64(requestType)) // a value with no SDK name is written as its number
		if requestType <= nt.WskIoctl {
			rt = sim.Str(requestType.String())
		}
		in := blockValue(inputBuffer, inputSize, true)
		if evOption(requestType, controlCode, level) {
			in = eventControlValue(inputBuffer, inputSize)
		}
		p.w.TraceCall(f, sim.F("Socket", sim.Obj(sockName(s))), sim.F("RequestType", rt), sim.F("ControlCode", code),
			sim.F("Level", levelValue(level)), sim.F("InputSize", sim.Int(inputSize)), sim.F("InputBuffer", in),
			sim.F("OutputSize", sim.Int(outputSize)), sim.F("OutputBuffer", blockValue(outputBuffer, outputSize, false)),
			sim.F("OutputSizeReturned", ptrArg(outputSizeReturned != nil)), sim.F("Irp", sim.Obj(irpName(i))))
	}
	wfpCode := k == ckCtlSet || k == ckCtlQueryRec || k == ckCtlQueryCtx
	if info.passive && (!wfpCode || p.w.IRQL() == nt.PASSIVE_LEVEL || p.w.PolicyName(PolicyIRQL) == "enforce-passive") {
		p.w.CheckIRQL(nt.PASSIVE_LEVEL)
	} else {
		p.w.CheckIRQL(nt.DISPATCH_LEVEL)
	}
	p.fromCompletion()
	g, st := p.gate(s, dControl, "WskControlSocket")
	if g == gateRefuse {
		return p.ret(f, k, st)
	}
	switch {
	case i == nil && info.mode == irpRequired:
		if p.w.PolicyName(PolicyNoIRP) == "violation" {
			p.w.Violate(RuleIRPRequired, fmt.Sprintf("WskControlSocket(%s, %s) with Irp == NULL; the IRP is required", requestType, info.name), s.Name())
		}
		return p.leave(f, k, s, nt.STATUS_INVALID_PARAMETER)
	case i != nil && info.mode == irpMustBeNull:
		p.w.Violate(RuleIRPMustBeNull, fmt.Sprintf("WskControlSocket(%s, %s) given %s; Irp must be NULL", requestType, info.name, i.Name()), s.Name(), i.Name())
		return p.leave(f, k, s, nt.STATUS_INVALID_PARAMETER)
	}
	if i != nil && !p.submit(i, "WskControlSocket", s.cl) {
		return p.leave(f, k, s, p.badIRP())
	}
	var o outs
	var n uint64
	undo := false
	if g == gateOK {
		switch {
		case requestType >= nt.WskControlMax:
			st = nt.STATUS_INVALID_PARAMETER
		case requestType == nt.WskIoctl && level != 0 && p.w.PolicyName(PolicyLevel) == "reject":
			st = nt.STATUS_INVALID_PARAMETER
		case k == ckCtlSet:
			st, undo = p.setRecords(s, i, inputSize, inputBuffer, outputSize, outputBuffer, outputSizeReturned)
		case k == ckCtlQueryRec || k == ckCtlQueryCtx:
			st, n = p.queryRedirect(s, i, k == ckCtlQueryCtx, outputSize, outputBuffer, outputSizeReturned, &o)
		case evOption(requestType, controlCode, level):
			if st = p.setEventCallback(s, i, inputSize, inputBuffer); st == nt.STATUS_PENDING && i != nil {
				s.ev.disable = append(s.ev.disable, p.wait(opTimed, i, k, s, nil))
				return p.leave(f, k, s, st)
			}
		case !known || !info.known:
			st = p.unknownStatus()
		case requestType == nt.WskIoctl: // SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE
			st, n = p.endpointHandle(s, i, outputSize, outputBuffer, outputSizeReturned, &o)
		case requestType == nt.WskSetOption:
			st = p.setOption(s, i, controlCode, level, inputSize, inputBuffer)
		default:
			st, n = p.getOption(s, i, controlCode, level, outputSize, outputBuffer, outputSizeReturned, &o)
		}
	}
	if i == nil {
		if o.osr != nil {
			*o.osr = o.osrV
		}
		return p.leave(f, k, s, st)
	}
	if !st.IsSuccess() {
		n = 0
		if st == nt.STATUS_BUFFER_TOO_SMALL && p.w.PolicyName(PolicyInfo) == "required-size" {
			n = o.osrV
		}
	}
	p.pendOp = nil
	st = p.finish(i, k, ChoiceControlComplete, s, s.cl, st, n, &o)
	if p.pendOp != nil && undo {
		p.pendOp.undoRecs, p.pendOp.recGen = true, s.recGen
	}
	return p.leave(f, k, s, st)
}

func (p *Provider) unknownStatus() nt.Status {
	if p.w.PolicyName(PolicyUnknown) == "STATUS_INVALID_DEVICE_REQUEST" {
		return nt.STATUS_INVALID_DEVICE_REQUEST
	}
	return nt.STATUS_NOT_SUPPORTED
}

func (p *Provider) categoryStatus() nt.Status {
	switch p.w.PolicyName(PolicyCategory) {
	case "STATUS_INVALID_DEVICE_REQUEST":
		return nt.STATUS_INVALID_DEVICE_REQUEST
	case "STATUS_INVALID_PARAMETER":
		return nt.STATUS_INVALID_PARAMETER
	}
	return nt.STATUS_NOT_SUPPORTED
}

// redirectCapable reports whether the redirect IOCTLs apply to s's category
// (P-CAT): connection sockets, and stream sockets not committed to listening.
func redirectCapable(s *Socket) bool {
	return s.cat == CategoryConnection || (s.cat == CategoryStream && s.lst == nil)
}

// overflow applies P-OVF (a) and, for SET, (b) to a SIZE_T size.
func (p *Provider) overflow(size uint64, set bool) bool {
	if size <= wfp.MaxRecordsSize {
		return false // below every option's limit: no policy lookup on the hot path
	}
	switch p.w.PolicyName(wfp.PolicyOverflow) {
	case "c":
		return false
	case "a+b+c":
		if set && size > wfp.MaxRecordsSize {
			return true
		}
	}
	return size > uint64(nt.MAXULONG)
}

// setRecords is SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS after the IRQL,
// IRP and socket checks. Order: size overflow (before anything is lent or
// copied), category, state (after connect, twice, after bind), output
// arguments, zero size, the input loan, the owner's elevation, the blob
// check, then the copy into the socket.
func (p *Provider) setRecords(s *Socket, i *irp.IRP, inSize uint64, in *irp.Block, outSize uint64, out *irp.Block, osr *uint64) (nt.Status, bool) {
	if p.overflow(inSize, true) {
		return nt.STATUS_INTEGER_OVERFLOW, false
	}
	if !redirectCapable(s) {
		return p.categoryStatus(), false
	}
	if s.flags&sfConnectIssued != 0 {
		p.w.Violate(RuleSetAfterConnect, "SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS on "+s.Name()+" after WskConnect: the records can no longer reach classification", s.Name())
		if p.w.PolicyName(PolicySetLate) == "ignore" {
			return nt.STATUS_SUCCESS, false
		}
		return nt.STATUS_INVALID_DEVICE_STATE, false
	}
	if s.flags&sfRecords != 0 && p.w.PolicyName(PolicySetTwice) == "reject" {
		return nt.STATUS_INVALID_DEVICE_STATE, false
	}
	if s.flags&sfBound != 0 && p.w.PolicyName(PolicySetBound) == "reject" {
		return nt.STATUS_INVALID_DEVICE_STATE, false
	}
	if outSize != 0 || out != nil || osr != nil {
		if p.w.PolicyName(PolicyOutBuf) == "reject" {
			return nt.STATUS_INVALID_PARAMETER, false
		}
		p.w.TraceNote("P-OUTBUF: SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS output arguments ignored")
	}
	if inSize == 0 || in == nil {
		if p.w.PolicyName(PolicyZero) == "clear" {
			s.records = s.records[:0]
			s.flags &^= sfRecords
			return nt.STATUS_SUCCESS, false
		}
		return nt.STATUS_INVALID_PARAMETER, false
	}
	if !p.m.Lend(i, in, 0, inSize) {
		return nt.STATUS_INVALID_PARAMETER, false
	}
	acc := p.w.Policy(wfp.PolicyAccess)
	if !s.owner.Elevated && acc == accElevation() { // P-ACC "b+c+d": (b) a non-elevated owning process
		return nt.STATUS_ACCESS_DENIED, false
	}
	blob := in.Bytes()[:inSize]
	st := p.checkRecords(blob, s.owner.PID, acc)
	if st == nt.STATUS_INVALID_PARAMETER && p.w.PolicyName(PolicyMismatch) == "STATUS_ACCESS_DENIED" {
		st = nt.STATUS_ACCESS_DENIED
	}
	if st != nt.STATUS_SUCCESS {
		return st, false
	}
	s.records = append(s.records[:0], blob...)
	s.flags |= sfRecords
	s.recGen++
	return nt.STATUS_SUCCESS, true
}

// accElevation returns the index of P-ACC's "b+c+d" option (the one that
// includes the elevation check this package applies). It is computed once, the
// first time any Provider asks, behind a sync.OnceValue: Providers in different
// goroutines (parallel tests) share it, and a plain lazily set global was a
// data race that could skip the non-elevated-owner check.
var accElevation = sync.OnceValue(func() int {
	idx := len(sim.Policies()) // never matches if the option is gone
	if pol, ok := sim.LookupPolicy(wfp.PolicyAccess); ok {
		for i, o := range pol.Options {
			if o == "b+c+d" {
				idx = i
			}
		}
	}
	return idx
})

// checkRecords is the engine's validation of a blob SET on a socket owned by
// pid (wfp.Engine.CheckRecords): every SET verifies the blob's MAC in full.
func (p *Provider) checkRecords(blob []byte, pid uint32, acc int) nt.Status {
	return p.e.CheckRecords(blob, pid)
}

// queryRedirect is SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS / _CONTEXT
// after the IRQL, IRP and socket checks.
func (p *Provider) queryRedirect(s *Socket, i *irp.IRP, context bool, outSize uint64, out *irp.Block, osr *uint64, o *outs) (nt.Status, uint64) {
	if p.overflow(outSize, false) {
		return nt.STATUS_INTEGER_OVERFLOW, 0
	}
	if !redirectCapable(s) {
		return p.categoryStatus(), 0
	}
	if osr == nil && p.w.PolicyName(PolicyOSR) == "reject" {
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	if out == nil && outSize > 0 {
		p.w.Violate(RuleNullArgument, fmt.Sprintf("WskControlSocket query with OutputSize %d and a NULL OutputBuffer", outSize), s.Name())
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	if out != nil && outSize > 0 && !p.m.Lend(i, out, 0, outSize) {
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	if !s.owner.Elevated && p.w.PolicyName(wfp.PolicyAccess) == "b+c+d" {
		return nt.STATUS_ACCESS_DENIED, 0
	}
	var data []byte
	if s.Redirected() {
		if context {
			data = s.end.c.context
		} else {
			data = s.end.c.records
		}
	}
	if len(data) == 0 {
		if p.w.PolicyName(wfp.PolicyNotFound) == "STATUS_FWP_NOT_FOUND" {
			return nt.STATUS_FWP_NOT_FOUND, 0
		}
		return nt.STATUS_NOT_FOUND, 0
	}
	need := uint64(len(data))
	o.osr, o.osrV = osr, need
	if outSize == 0 {
		if p.w.PolicyName(PolicyZeroProbe) == "success" {
			return nt.STATUS_SUCCESS, 0
		}
		return nt.STATUS_BUFFER_TOO_SMALL, 0
	}
	if outSize < need {
		return nt.STATUS_BUFFER_TOO_SMALL, 0
	}
	p.m.Deliver(i, out, 0, data)
	o.outBuf = data
	return nt.STATUS_SUCCESS, need
}

// endpointHandle is SIO_QUERY_WFP_ALE_ENDPOINT_HANDLE: a stable 64-bit id
// per socket (its handle); the output must hold a UINT64.
func (p *Provider) endpointHandle(s *Socket, i *irp.IRP, outSize uint64, out *irp.Block, osr *uint64, o *outs) (nt.Status, uint64) {
	if out == nil || outSize < 8 {
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], s.handle)
	if !p.writeOut(i, out, outSize, v[:]) {
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	o.osr, o.osrV = osr, 8
	return nt.STATUS_SUCCESS, 8
}

// readIn returns the first 4 bytes of an input block as a ULONG, after
// lending (with an IRP) or bounds-checking (without) inSize bytes.
func (p *Provider) readIn(s *Socket, i *irp.IRP, in *irp.Block, inSize uint64) (uint32, bool) {
	if in == nil || inSize < 4 {
		return 0, false
	}
	if i != nil {
		if !p.m.Lend(i, in, 0, inSize) {
			return 0, false
		}
	} else if in.Freed() || inSize > in.Size() {
		p.w.Violate(irp.RuleBufOverrun, fmt.Sprintf("WskControlSocket given %d bytes of %s, which holds %d", inSize, in.Name(), in.Size()), in.Name(), s.Name())
		return 0, false
	}
	return binary.LittleEndian.Uint32(in.Bytes()), true
}

// writeOut writes v at the start of an output block, lent to i (or
// bounds-checked when there is no IRP).
func (p *Provider) writeOut(i *irp.IRP, out *irp.Block, outSize uint64, v []byte) bool {
	if i != nil {
		if !p.m.Lend(i, out, 0, outSize) {
			return false
		}
		p.m.Deliver(i, out, 0, v)
		return true
	}
	if out.Freed() || outSize > out.Size() {
		p.w.Violate(irp.RuleBufOverrun, fmt.Sprintf("WskControlSocket given %d bytes of %s, which holds %d", outSize, out.Name(), out.Size()), out.Name())
		return false
	}
	copy(out.Bytes(), v)
	return true
}

func optionFlag(code uint32) uint16 {
	switch code {
	case nt.SO_REUSEADDR:
		return sfReuse
	case nt.SO_EXCLUSIVEADDRUSE:
		return sfExcl
	}
	return sfV6Only
}

func (p *Provider) setOption(s *Socket, i *irp.IRP, code, level uint32, inSize uint64, in *irp.Block) nt.Status {
	fl := optionFlag(code)
	if fl == sfV6Only {
		if s.family != nt.AF_INET6 {
			return nt.STATUS_INVALID_PARAMETER
		}
	} else if s.cat == CategoryBasic {
		return p.unknownStatus() // the options apply to listening, datagram and connection sockets
	}
	v, ok := p.readIn(s, i, in, inSize)
	if !ok {
		return nt.STATUS_INVALID_PARAMETER
	}
	if s.flags&sfBound != 0 {
		p.w.Violate(RuleOptionAfterBind, fmt.Sprintf("option %d (level %d) set on %s after it was bound", code, level, s.Name()), s.Name())
		return nt.STATUS_INVALID_DEVICE_STATE
	}
	if v != 0 && ((fl == sfReuse && s.flags&sfExcl != 0) || (fl == sfExcl && s.flags&sfReuse != 0)) {
		return nt.STATUS_INVALID_PARAMETER // {SO_REUSEADDR, SO_EXCLUSIVEADDRUSE} = {1, 1} is not a legal pair
	}
	if v != 0 {
		s.flags |= fl
	} else {
		s.flags &^= fl
	}
	return nt.STATUS_SUCCESS
}

func (p *Provider) getOption(s *Socket, i *irp.IRP, code, level uint32, outSize uint64, out *irp.Block, osr *uint64, o *outs) (nt.Status, uint64) {
	fl := optionFlag(code)
	if fl == sfV6Only && s.family != nt.AF_INET6 {
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	if out == nil {
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	if outSize < 4 {
		return nt.STATUS_BUFFER_TOO_SMALL, 0
	}
	var v [4]byte
	if s.flags&fl != 0 {
		v[0] = 1
	}
	if !p.writeOut(i, out, outSize, v[:]) {
		return nt.STATUS_INVALID_PARAMETER, 0
	}
	o.osr, o.osrV = osr, 4
	return nt.STATUS_SUCCESS, 4
}
