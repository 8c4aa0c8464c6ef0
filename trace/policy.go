package trace

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/wsksim/wsksim/sim"
)

// Open policies. Under a profile that leaves a policy open (the default
// profile leaves them all open), every option the policy lists is allowed:
// when a call diverges, the replay learns from Config.PolicyObserver which
// policies the model read for it, replays the trace from the start with each
// such policy pinned to each of its other options (the model is
// deterministic, so replaying the prefix is the snapshot), and accepts the
// first option under which that call conforms. The report then says
// "P-X: the trace took option Y (model default Z)".

// maxRetryBuffer bounds how much of a trace that cannot be re-read (a pipe,
// stdin) is kept for replaying it again under other options of open
// policies. A file is re-read by seeking instead. When a longer trace from a
// pipe needs such a replay, the report is UNUSABLE and says why (replay it
// from a file, or pin the policies), never a verdict a file would not get.
const maxRetryBuffer = 1 << 30

// retryMemory is how much of that is kept in memory; the rest goes to a
// temporary file, so memory stays flat however long the trace.
const retryMemory = 8 << 20

// maxRetries bounds the replays of one trace (each accepted option may
// expose a divergence further on that another policy explains).
const maxRetries = 64

type polRead struct {
	seq uint64
	id  string
	opt int
}

// observePolicy is the world's PolicyObserver.
func (r *replayer) observePolicy(id string, opt int) {
	var seq uint64
	if r.cur != nil {
		seq = r.cur.ev.Seq
	}
	if n := len(r.polLog); n > 0 && r.polLog[n-1].seq == seq && r.polLog[n-1].id == id {
		return
	}
	r.polLog = append(r.polLog, polRead{seq: seq, id: id, opt: opt})
	if len(r.polLog) > 4096 {
		r.polLog = append(r.polLog[:0], r.polLog[len(r.polLog)-2048:]...)
	}
}

// callSeqOf is the seq of the call an event showing an outcome belongs to.
func (r *replayer) callSeqOf(at *Event) uint64 {
	if at == nil {
		return 0
	}
	switch at.Kind {
	case EvReturn:
		return at.Call
	case EvComplete:
		if s, ok := r.irpCall[at.IRP]; ok {
			return s
		}
	}
	if r.cur != nil && r.cur.ev.Seq < at.Seq {
		return r.cur.ev.Seq
	}
	return at.Seq
}

// divergencePolicies are the policies the model read for the divergent call
// (from its call to the event being replayed when it diverged), with the
// option in force, in the order first read.
func (r *replayer) divergencePolicies() []polRead {
	var out []polRead
	seen := map[string]bool{}
	cur := ^uint64(0)
	if r.cur != nil {
		cur = r.cur.ev.Seq
	}
	for _, p := range r.polLog {
		if (p.seq >= r.divFrom && p.seq <= cur) || (r.divFrom == 0 && p.seq == 0) {
			if !seen[p.id] {
				seen[p.id] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// PolicyTaken is an open policy whose option the replay took from the trace.
type PolicyTaken struct {
	Policy  string `json:"policy"`
	Option  string `json:"option"`
	Default string `json:"default"`
}

// source replays a trace more than once: by seeking, or from a copy of the
// bytes read so far. The copy is kept in memory up to memLimit (so a long
// trace from a pipe does not grow the heap), then in a temporary file up to
// limit bytes; a longer trace from a pipe cannot be replayed again.
type source struct {
	rd       io.Reader
	seeker   io.ReadSeeker
	start    int64
	buf      bytes.Buffer
	spool    *os.File
	size     int64
	over     bool
	why      string // why it cannot be read again
	memLimit int
	limit    int64
}

func newSource(rd io.Reader, memLimit int, limit int64) *source {
	if memLimit <= 0 {
		memLimit = retryMemory
	}
	if limit <= 0 {
		limit = maxRetryBuffer
	}
	s := &source{rd: rd, memLimit: memLimit, limit: limit}
	if sk, ok := rd.(io.ReadSeeker); ok {
		if off, err := sk.Seek(0, io.SeekCurrent); err == nil {
			s.seeker, s.start = sk, off
		}
	}
	return s
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.rd.Read(p)
	if s.seeker == nil && !s.over && n > 0 {
		s.keep(p[:n])
	}
	return n, err
}

func (s *source) keep(b []byte) {
	if s.size+int64(len(b)) > s.limit {
		s.drop(fmt.Sprintf("it comes from a pipe and is longer than the %s kept to replay it again", sizeText(s.limit)))
		return
	}
	s.size += int64(len(b))
	if s.spool == nil && s.buf.Len()+len(b) <= s.memLimit {
		s.buf.Write(b)
		return
	}
	if s.spool == nil {
		f, err := os.CreateTemp("", "wsksim-replay-*.jsonl")
		if err != nil {
			s.drop("it comes from a pipe, and the temporary file to keep it for another replay could not be created: " + err.Error())
			return
		}
		s.spool = f
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			s.drop("it comes from a pipe, and keeping it in a temporary file failed: " + err.Error())
			return
		}
		s.buf = bytes.Buffer{}
	}
	if _, err := s.spool.Write(b); err != nil {
		s.drop("it comes from a pipe, and keeping it in a temporary file failed: " + err.Error())
	}
}

func (s *source) drop(why string) {
	s.over, s.why = true, why
	s.buf = bytes.Buffer{}
	s.close()
}

// close removes the temporary file, if any.
func (s *source) close() {
	if s.spool != nil {
		name := s.spool.Name()
		s.spool.Close()
		os.Remove(name)
		s.spool = nil
	}
}

// again returns a reader of the whole trace, or false when it cannot be read
// again (s.why says why).
func (s *source) again() (io.Reader, bool) {
	if s.seeker != nil {
		if _, err := s.seeker.Seek(s.start, io.SeekStart); err != nil {
			s.why = "seeking back to its start failed: " + err.Error()
			return nil, false
		}
		return s.seeker, true
	}
	if !s.over {
		var tmp [32 << 10]byte
		for !s.over {
			n, err := s.Read(tmp[:])
			if n == 0 && err != nil {
				break
			}
		}
	}
	if s.over {
		return nil, false
	}
	if s.spool != nil {
		return io.NewSectionReader(s.spool, 0, s.size), true
	}
	return bytes.NewReader(s.buf.Bytes()), true
}

func replayWithRetries(rd io.Reader, opts Options) (*Report, error) {
	src := newSource(rd, opts.retryMemory, opts.retryBuffer)
	defer src.close()
	rp := replayOnce(src, opts)
	pinned := map[string]bool{}
	for id := range opts.Pins {
		pinned[id] = true
	}
	if prof, ok := profiles[rp.rep.Profile]; ok {
		for id := range prof() {
			pinned[id] = true
		}
	}
	var taken []PolicyTaken
	runs := 1
	for rp.rep.Verdict == Diverges && runs < maxRetries {
		cands := rp.divergencePolicies()
		var open []polRead
		for _, c := range cands {
			if !pinned[c.id] {
				open = append(open, c)
			}
		}
		if len(open) == 0 {
			break
		}
		var next *replayer
		var took PolicyTaken
		var nextOpts Options
		best := progressOf(rp)
	search:
		for _, c := range open {
			pol, ok := sim.LookupPolicy(c.id)
			if !ok {
				continue
			}
			for k, opt := range pol.Options {
				if k == c.opt {
					continue
				}
				in, ok := src.again()
				if !ok {
					// Without the other options the verdict could differ
					// from the same trace's from a file: say so instead.
					rep := &Report{Verdict: Unusable, Source: rp.rep.Source, Profile: rp.rep.Profile, Events: rp.rep.Events,
						Error: &Error{Msg: fmt.Sprintf("the trace cannot be read again (%s); its replay diverged under the model's option %s=%s of an open policy, and trying the other options needs the trace again: replay it from a file, or pin %s (--pin, --profile model-defaults)",
							src.why, c.id, optName(pol, c.opt), c.id)}}
					rep.Notes = []string{"the first replay's divergence: " + describeDivergence(rp.rep.Divergence)}
					return rep, nil
				}
				o := opts
				o.Pins = map[string]string{}
				for id, v := range opts.Pins {
					o.Pins[id] = v
				}
				o.Pins[c.id] = opt
				runs++
				try := replayOnce(in, o)
				if try.rep.Verdict == Unusable {
					continue
				}
				// Keep the option whose replay got furthest (a conforming
				// one ends the search): when every option diverges, the
				// report is the divergence nearest the real problem.
				if p := progressOf(try); p.after(best) {
					best, next, nextOpts = p, try, o
					took = PolicyTaken{Policy: c.id, Option: opt, Default: pol.Options[pol.Default]}
					if try.rep.Divergence == nil {
						break search
					}
				}
				if runs >= maxRetries {
					break search
				}
			}
			if next != nil {
				break // the furthest option of this policy
			}
		}
		if next == nil {
			break
		}
		pinned[took.Policy] = true
		taken = append(taken, took)
		rp, opts = next, nextOpts
	}
	rep := rp.rep
	rep.Policies = taken
	if d := rep.Divergence; d != nil {
		for _, c := range rp.divergencePolicies() {
			pol, ok := sim.LookupPolicy(c.id)
			if !ok || c.opt < 0 || c.opt >= len(pol.Options) {
				continue
			}
			s := c.id + "=" + pol.Options[c.opt]
			if pinned[c.id] {
				s += " (pinned)"
			} else {
				s += " (every other option tried)"
			}
			d.Policies = append(d.Policies, s)
		}
	}
	if len(taken) > 0 {
		var parts []string
		for _, t := range taken {
			parts = append(parts, t.Policy+"="+t.Option)
		}
		sort.Strings(parts)
		rep.Notes = append(rep.Notes, fmt.Sprintf("replayed %d times to find the options of open policies the trace took (%s)", runs, strings.Join(parts, ", ")))
	}
	return rep, nil
}

// progress is how far a replay got: a conforming one furthest, then one that
// diverged at the end of the trace (a completion never shown), then by the
// seq and line of the divergent event.
type progress struct {
	rank int // 2: no divergence, 1: at the end of the trace, 0: at an event
	seq  uint64
	line int
}

func progressOf(rp *replayer) progress {
	d := rp.rep.Divergence
	switch {
	case d == nil:
		return progress{rank: 2}
	case d.Seq == 0 && d.Line == 0:
		return progress{rank: 1}
	}
	return progress{seq: d.Seq, line: d.Line}
}

func (p progress) after(q progress) bool {
	if p.rank != q.rank {
		return p.rank > q.rank
	}
	if p.seq != q.seq {
		return p.seq > q.seq
	}
	return p.line > q.line
}

func describeDivergence(d *Divergence) string {
	if d == nil {
		return "none"
	}
	where := "at the end of the trace"
	if d.Seq != 0 || d.Line != 0 {
		where = fmt.Sprintf("at seq %d (line %d)", d.Seq, d.Line)
	}
	return fmt.Sprintf("%s, in %s: observed %s, the model allows %s", where, d.Call, d.Observed, d.Allowed)
}

func sizeText(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func optName(p sim.Policy, k int) string {
	if k < 0 || k >= len(p.Options) {
		return "?"
	}
	return p.Options[k]
}
