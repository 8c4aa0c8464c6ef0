package fuzz

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/scenarios"
	"github.com/wsksim/wsksim/sim"
)

// The plain model: a deliberately simple account of the IRP lifecycle and
// pool rules, and of the status classes of the WFP redirect IOCTLs, written
// from the rule table (docs/rules.md), not from how package irp keeps its
// state. It reads what each command printed (the calls, their results, the
// completion routines that ran and what they did) and predicts, per
// command, which IRP-*, POOL-*, BUF-* and IRQL-ABOVE-MAX violations the
// verifier may report (allowed) and which it must report (certain). Where it
// cannot know an IRP's state (a completion routine that is not invoked on
// every outcome, so completions go unseen) it says "unknown" and allows
// every outcome.

type mState uint8

const (
	mIdle     mState = iota // the driver owns it
	mInline                 // given to a call that did not return STATUS_PENDING: it may complete within the command
	mInFlight               // a call returned STATUS_PENDING; its routine (invoked on every outcome) has not run yet
	mUnknown
	mFreed
)

type mRoutine uint8

const (
	rNone    mRoutine = iota // no routine set (fresh, or cleared by IoReuseIrp)
	rFull                    // a declared routine invoked on success, error and cancel
	rPartial                 // not all three InvokeOn flags
	rUnknown
)

type mIRP struct {
	st           mState
	routine      mRoutine
	needReuse    bool
	reuseUnknown bool
	lends        []string
	ctl          *ctlCall
	submitted    string // the command that left it in flight
}

type mPool struct {
	tag   string
	freed bool
}

type ctlCall struct {
	code            string
	inSize, outSize uint64
	inNull, outNull bool
}

type model struct {
	irps     map[string]*mIRP
	pools    map[string]*mPool
	dirty    bool // a block was written while a call may have had it on loan
	problems []string

	// per command
	cmd     string
	allowed map[string]bool
	certain []string
	inline  []string
}

func newModel() *model {
	return &model{irps: map[string]*mIRP{}, pools: map[string]*mPool{}}
}

func (m *model) problem(format string, a ...any) {
	if len(m.problems) < 20 {
		m.problems = append(m.problems, fmt.Sprintf(format, a...))
	}
}

// covered reports whether the plain model covers a rule.
func covered(rule string) bool {
	return strings.HasPrefix(rule, "IRP-") || strings.HasPrefix(rule, "POOL-") || strings.HasPrefix(rule, "BUF-") || rule == sim.RuleIRQLAboveMax
}

func (m *model) allow(rules ...string) {
	for _, r := range rules {
		m.allowed[r] = true
	}
}

func (m *model) must(rule string) { m.certain = append(m.certain, rule) }

var (
	reLineAlloc    = regexp.MustCompile(`^IoAllocateIrp\(StackSize=(-?\d+), ChargeQuota=\w+\) -> (\S+)`)
	reLineSetRtn   = regexp.MustCompile(`^IoSetCompletionRoutine\(Irp=(\w+)(, CompletionRoutine=NULL)?, InvokeOnSuccess=(\w+), InvokeOnError=(\w+), InvokeOnCancel=(\w+)\)`)
	reLineReuse    = regexp.MustCompile(`^IoReuseIrp\(Irp=(\w+),`)
	reLineFree     = regexp.MustCompile(`^IoFreeIrp\(Irp=(\w+)\)`)
	reLineCancel   = regexp.MustCompile(`^IoCancelIrp\(Irp=(\w+)\)`)
	reLinePool     = regexp.MustCompile(`^ExAllocatePool2\(Flags=\S+, NumberOfBytes=\d+, Tag=(\S+)\) -> (pool\d+)`)
	reLineFreePool = regexp.MustCompile(`^ExFreePool(WithTag)?\(P=(\w+)(, Tag=(\S+))?\)`)
	reLineWrite    = regexp.MustCompile(`^(pool\d+)\[\d+:\d+\] = `)
	reLineWriteUAF = regexp.MustCompile(`^(pool\d+) is freed; nothing written`)
	reLineWsk      = regexp.MustCompile(`^(Wsk\w+)\((.*)Irp=(\w+)\) -> (\S+)`)
	reLineBufs     = regexp.MustCompile(`(?:Buffer=\{|InputBuffer=|OutputBuffer=|ControlInfo=)(pool\d+)`)
	reLineRoutine  = regexp.MustCompile(`^(irp\d+) completion routine(?:: (.*))? -> (\S+)$`)
	reLineIRPState = regexp.MustCompile(`^(irp\d+)(?: \(\w+\))?: (in flight|idle|freed)`)
	reCtl          = regexp.MustCompile(`ControlCode=(\S+), Level=\S+, InputSize=(\d+), InputBuffer=(\S+), OutputSize=(\d+), OutputBuffer=(\S+), OutputSizeReturned`)
	reStatusInfo   = regexp.MustCompile(`status=(\S+) information=(\d+)`)
)

// driverLocal are the commands that cannot run the world's queue or complete
// an IRP: only the lines they print can explain their violations.
var driverLocal = map[string]bool{
	"alloc-irp": true, "set-routine": true, "reuse-irp": true, "free-irp": true, "alloc-pool": true,
	"free-pool": true, "write-pool": true, "irp": true, "seed": true, "fault": true, "policy": true,
	"pin": true, "unpin": true, "process": true, "clear-faults": true, "wsk-sockets": true,
}

// command checks the violations one command produced against the model's
// prediction from what the command printed.
func (m *model) command(c *scenarios.Command, out string, rules []string) {
	m.cmd = c.Text()
	m.allowed = map[string]bool{}
	m.certain = m.certain[:0]
	m.inline = m.inline[:0]
	if !driverLocal[c.Name] && m.dirty {
		m.allow(irp.RuleBufWriteWhileLent)
	}
	if c.Name == "close" {
		m.leaks()
	}
	for _, line := range strings.Split(out, "\n") {
		m.line(strings.TrimLeft(line, " "))
	}
	for _, name := range m.inline {
		if i := m.irps[name]; i.st == mInline {
			// Not taken, or completed without its routine being invoked.
			i.st = mIdle
			if i.routine != rFull {
				i.reuseUnknown = true
			}
		}
	}
	// Compare.
	got := map[string]int{}
	for _, r := range rules {
		if !covered(r) {
			continue
		}
		got[r]++
	}
	want := map[string]int{}
	for _, r := range m.certain {
		want[r]++
	}
	var bad []string
	for r, n := range got {
		if !m.allowed[r] && want[r] == 0 {
			bad = append(bad, fmt.Sprintf("%s reported %d time(s), which the plain model does not allow", r, n))
		}
	}
	for r, n := range want {
		if got[r] < n {
			bad = append(bad, fmt.Sprintf("%s predicted %d time(s) with certainty, reported %d", r, n, got[r]))
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		m.problem("plain model: %s: %s", m.cmd, b)
	}
}

func (m *model) irp(name string) *mIRP {
	i := m.irps[name]
	if i == nil {
		// An IRP the model did not see allocated: know nothing.
		i = &mIRP{st: mUnknown, routine: rUnknown, reuseUnknown: true}
		m.irps[name] = i
	}
	return i
}

func (m *model) line(l string) {
	if l == "" {
		return
	}
	switch {
	case strings.HasPrefix(l, "IoAllocateIrp("):
		if g := reLineAlloc.FindStringSubmatch(l); g != nil {
			n, _ := strconv.Atoi(g[1])
			if n < 1 || n > 127 {
				m.must(irp.RuleBadStackSize)
			}
			if g[2] != "NULL" {
				m.irps[g[2]] = &mIRP{st: mIdle}
			}
		}
	case strings.HasPrefix(l, "IoSetCompletionRoutine("):
		g := reLineSetRtn.FindStringSubmatch(l)
		if g == nil {
			return
		}
		i := m.use(g[1], irp.RuleResubmitInFlight)
		if i == nil {
			return
		}
		switch i.st {
		case mIdle:
			if g[2] != "" {
				i.routine = rNone // a NULL routine is no routine
			} else if g[3] == "true" && g[4] == "true" && g[5] == "true" {
				i.routine = rFull
			} else {
				i.routine = rPartial
			}
		case mUnknown:
			i.routine = rUnknown
		}
	case strings.HasPrefix(l, "IoReuseIrp("):
		g := reLineReuse.FindStringSubmatch(l)
		if g == nil {
			return
		}
		if i := m.use(g[1], irp.RuleReuseInFlight); i != nil && i.st == mIdle {
			i.routine, i.needReuse, i.reuseUnknown = rNone, false, false
		}
	case strings.HasPrefix(l, "IoFreeIrp("):
		g := reLineFree.FindStringSubmatch(l)
		if g == nil {
			return
		}
		if i := m.use(g[1], irp.RuleFreeInFlight); i != nil && i.st == mIdle {
			i.st = mFreed
		}
	case strings.HasPrefix(l, "IoCancelIrp("):
		g := reLineCancel.FindStringSubmatch(l)
		if g == nil {
			return
		}
		m.use(g[1], "")
	case strings.HasPrefix(l, "ExAllocatePool2("):
		if g := reLinePool.FindStringSubmatch(l); g != nil {
			m.pools[g[2]] = &mPool{tag: g[1]}
		}
	case strings.HasPrefix(l, "ExFreePool"):
		g := reLineFreePool.FindStringSubmatch(l)
		if g == nil {
			return
		}
		if g[2] == "NULL" {
			m.must(irp.RulePoolNull)
			return
		}
		p := m.pools[g[2]]
		switch {
		case p == nil:
			m.allow(irp.RulePoolDoubleFree, irp.RulePoolTagMismatch, irp.RulePoolFreeWhileLent)
		case p.freed:
			m.must(irp.RulePoolDoubleFree)
		default:
			if g[1] != "" && g[4] != p.tag {
				m.must(irp.RulePoolTagMismatch)
			}
			if m.maybeLent(g[2]) {
				m.allow(irp.RulePoolFreeWhileLent)
			}
			p.freed = true
		}
	case reLineWriteUAF.MatchString(l):
		m.must(irp.RulePoolUseAfterFree)
	case reLineWrite.MatchString(l):
		if m.maybeLent(reLineWrite.FindStringSubmatch(l)[1]) {
			m.dirty = true
		}
	case strings.HasPrefix(l, "Wsk"):
		if g := reLineWsk.FindStringSubmatch(l); g != nil {
			m.submit(g[1], g[2], g[3], g[4], l)
		}
	case reLineRoutine.MatchString(l):
		g := reLineRoutine.FindStringSubmatch(l)
		m.completed(g[1], g[2], g[3])
	case reLineIRPState.MatchString(l):
		g := reLineIRPState.FindStringSubmatch(l)
		if g[2] == "in flight" {
			m.problem("liveness: %s is still in flight after the world ran idle and every socket was closed", g[1])
		}
	}
}

// use is the first check of every I/O manager routine that takes an IRP:
// NULL, freed, and (inFlightRule) in flight.
func (m *model) use(name, inFlightRule string) *mIRP {
	if name == "NULL" {
		m.must(irp.RuleNullIRP)
		return nil
	}
	i := m.irp(name)
	switch i.st {
	case mFreed:
		m.must(irp.RuleUseAfterFree)
		return nil
	case mInFlight:
		if inFlightRule != "" {
			m.must(inFlightRule)
		}
	case mUnknown:
		m.allow(irp.RuleUseAfterFree)
		if inFlightRule != "" {
			m.allow(inFlightRule)
		}
	}
	return i
}

func (m *model) maybeLent(pool string) bool {
	for _, i := range m.irps {
		if i.st == mInFlight || i.st == mUnknown || i.st == mInline {
			for _, p := range i.lends {
				if p == pool {
					return true
				}
			}
		}
	}
	return false
}

// submit is a WSK call given an IRP: what the I/O manager may report, and
// the IRP's state after the call returned ret.
func (m *model) submit(fn, args, name, ret, line string) {
	bufs := reLineBufs.FindAllStringSubmatch(args, -1)
	if len(bufs) > 0 {
		m.allow(irp.RuleBufOverrun)
	}
	for _, b := range bufs {
		if p := m.pools[b[1]]; p == nil || p.freed {
			m.allow(irp.RulePoolUseAfterFree)
		}
	}
	var ctl *ctlCall
	if fn == "WskControlSocket" {
		ctl = parseCtl(args)
		if ctl != nil {
			if ret != "STATUS_PENDING" {
				m.classCheck(ctl, name == "NULL", ret, 0, false, line)
			}
		}
	}
	if name == "NULL" {
		m.allow(irp.RuleNullIRP)
		return
	}
	i := m.irp(name)
	switch i.st {
	case mFreed:
		m.allow(irp.RuleUseAfterFree)
		return
	case mInFlight:
		m.allow(irp.RuleResubmitInFlight)
		return
	case mInline:
		// The same IRP twice in one command (a routine resubmitting): give up on it.
		i.st = mUnknown
		return
	case mUnknown:
		m.allow(irp.RuleUseAfterFree, irp.RuleResubmitInFlight, irp.RuleResubmitNoReuse, irp.RuleNoRoutine, irp.RuleInvokeFlags)
		i.lends = appendLends(i.lends, bufs)
		i.routine = rUnknown
		i.ctl = nil // a completion seen later may be this call's or an earlier one's
		return
	}
	// Idle.
	if i.needReuse || i.reuseUnknown {
		m.allow(irp.RuleResubmitNoReuse)
	}
	switch i.routine {
	case rNone:
		m.allow(irp.RuleNoRoutine)
	case rPartial:
		m.allow(irp.RuleInvokeFlags)
	case rUnknown:
		m.allow(irp.RuleNoRoutine, irp.RuleInvokeFlags)
	}
	i.lends = appendLends(i.lends[:0], bufs)
	i.ctl = ctl
	if ret == "STATUS_PENDING" {
		if i.routine == rFull {
			i.st = mInFlight
			i.submitted = m.cmd
		} else {
			i.st = mUnknown
			i.routine = rUnknown
			i.reuseUnknown = true
		}
		return
	}
	i.st = mInline
	m.inline = append(m.inline, name)
}

func appendLends(l []string, bufs [][]string) []string {
	for _, b := range bufs {
		l = append(l, b[1])
	}
	return l
}

// completed is a completion routine's line: the IRP completed.
func (m *model) completed(name, saw, ret string) {
	i := m.irp(name)
	switch i.st {
	case mInFlight, mInline, mUnknown:
	case mIdle:
		m.problem("liveness: %s: %s completed again while the driver owned it (its call had already completed)", m.cmd, name)
	case mFreed:
		m.problem("liveness: %s: the completion routine of freed %s ran", m.cmd, name)
	}
	i.st = mIdle
	i.needReuse = true
	i.reuseUnknown = false
	i.lends = i.lends[:0]
	i.submitted = ""
	if ret != "STATUS_MORE_PROCESSING_REQUIRED" {
		m.must(irp.RuleRoutineReturn)
	}
	if ctl := i.ctl; ctl != nil {
		i.ctl = nil
		if g := reStatusInfo.FindStringSubmatch(saw); g != nil {
			info, _ := strconv.ParseUint(g[2], 10, 64)
			m.classCheck(ctl, false, g[1], info, true, name+" completion routine: "+saw)
		}
	}
}

func parseCtl(args string) *ctlCall {
	g := reCtl.FindStringSubmatch(args)
	if g == nil {
		return nil
	}
	in, _ := strconv.ParseUint(g[2], 10, 64)
	out, _ := strconv.ParseUint(g[4], 10, 64)
	return &ctlCall{code: g[1], inSize: in, outSize: out, inNull: g[3] == "NULL", outNull: g[5] == "NULL"}
}

// classCheck holds the final status of a SET or QUERY to its class.
func (m *model) classCheck(c *ctlCall, noIRP bool, status string, info uint64, haveInfo bool, where string) {
	ok := status == "STATUS_SUCCESS"
	set := c.code == "SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS"
	query := c.code == "SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS" || c.code == "SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT"
	if !ok || !(set || query) {
		return
	}
	switch {
	case noIRP:
		m.problem("status class: %s: %s succeeded without the IRP it requires: %s", m.cmd, c.code, where)
	case set && c.inSize > 0xFFFFFFFF:
		m.problem("status class: %s: SET with InputSize %d > MAXULONG succeeded: %s", m.cmd, c.inSize, where)
	case set && (c.inSize == 0 || c.inNull):
		m.problem("status class: %s: SET with no input (InputSize %d, InputBuffer NULL=%t) succeeded: %s", m.cmd, c.inSize, c.inNull, where)
	case query && haveInfo && info > c.outSize:
		m.problem("status class: %s: QUERY placed %d bytes in an OutputSize of %d: %s", m.cmd, info, c.outSize, where)
	case query && haveInfo && info > 0 && c.outNull:
		m.problem("status class: %s: QUERY placed %d bytes in a NULL OutputBuffer: %s", m.cmd, info, where)
	}
}

// leaks is what the close command's leak checks must and may report.
func (m *model) leaks() {
	for _, i := range m.irps {
		switch i.st {
		case mIdle:
			m.must(irp.RuleLeak)
		case mUnknown, mInFlight, mInline:
			m.allow(irp.RuleLeak)
		}
	}
	for _, p := range m.pools {
		if !p.freed {
			m.must(irp.RulePoolLeak)
		}
	}
}

// liveness runs after the epilogue: no IRP a call left pending may still be
// waiting for its completion.
func (m *model) liveness() {
	names := make([]string, 0, len(m.irps))
	for n, i := range m.irps {
		if i.st == mInFlight {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		m.problem("liveness: %s never completed (left pending by: %s)", n, m.irps[n].submitted)
	}
}
