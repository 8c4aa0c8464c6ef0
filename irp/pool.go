package irp

import (
	"fmt"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// POOL_FLAGS values accepted by ExAllocatePool2 (wdm.h).
const (
	POOL_FLAG_UNINITIALIZED = 0x0000000000000002
	POOL_FLAG_NON_PAGED     = 0x0000000000000040
	POOL_FLAG_PAGED         = 0x0000000000000100
)

// Block is a pool block from ExAllocatePool2. Its bytes are a plain Go slice
// the driver may read and write; writes while a pending call has the block on
// loan are caught when the call's IRP completes.
type Block struct {
	m        *Manager
	num      int
	tag      uint32
	flags    uint64
	data     []byte
	freed    bool
	lent     int
	live     int
	allocSeq uint64
}

// Name returns the display name ("pool1").
func (b *Block) Name() string {
	if b == nil {
		return "NULL"
	}
	return sim.Name("pool", b.num)
}

// Size returns the block's size in bytes.
func (b *Block) Size() uint64 { return uint64(len(b.data)) }

// Tag returns the pool tag.
func (b *Block) Tag() uint32 { return b.tag }

// Freed reports whether the block was freed.
func (b *Block) Freed() bool { return b.freed }

// Lent reports whether a pending call has the block on loan.
func (b *Block) Lent() bool { return b.lent > 0 }

// Bytes returns the block's memory. After the block is freed it returns nil and
// reports POOL-USE-AFTER-FREE.
func (b *Block) Bytes() []byte {
	if b == nil {
		return nil
	}
	if b.freed {
		b.m.w.Violate(RulePoolUseAfterFree, "access to "+b.Name()+" after it was freed", b.Name())
		return nil
	}
	return b.data
}

// TagString renders a pool tag the way debuggers do: four characters, low byte
// first ('Wsks' for 0x736b7357), or hex when not printable.
func TagString(tag uint32) string {
	var c [4]byte
	for k := 0; k < 4; k++ {
		c[k] = byte(tag >> (8 * k))
		if c[k] < 0x20 || c[k] > 0x7e {
			return fmt.Sprintf("0x%08X", tag)
		}
	}
	return string(c[:])
}

// ExAllocatePool2 models ExAllocatePool2 (IRQL <= DISPATCH_LEVEL). It returns a
// zeroed block (even with POOL_FLAG_UNINITIALIZED, so runs stay deterministic),
// or nil when fault site "pool.alloc" fires or the request would exceed the
// manager's PoolBudget: a huge NumberOfBytes fails like the real pool instead
// of being allocated.
func (m *Manager) ExAllocatePool2(flags uint64, numberOfBytes uint64, tag uint32) *Block {
	f := m.w.Begin("ExAllocatePool2")
	if m.w.Tracing() {
		m.w.TraceCall(f, sim.F("Flags", sim.Int(flags)), sim.F("NumberOfBytes", sim.Int(numberOfBytes)), sim.F("Tag", sim.Int(uint64(tag))))
	}
	m.w.CheckIRQL(nt.DISPATCH_LEVEL)
	var b *Block
	if numberOfBytes <= m.PoolBudget-m.poolBytes && m.poolBytes <= m.PoolBudget && !m.w.Fault(FaultPoolAlloc) {
		b = &Block{m: m, num: m.w.NextName("pool"), tag: tag, flags: flags, data: make([]byte, numberOfBytes), live: len(m.blocks), allocSeq: f.Seq}
		m.blocks = append(m.blocks, b)
		m.poolBytes += numberOfBytes
	}
	v := sim.Null()
	if b != nil && m.w.Tracing() {
		v = sim.Bind(b.Name()) // the name is formatted only for a trace
	}
	m.w.ReturnValue(f, v)
	return b
}

// ExFreePoolWithTag models ExFreePoolWithTag.
func (m *Manager) ExFreePoolWithTag(b *Block, tag uint32) {
	f := m.w.Begin("ExFreePoolWithTag")
	if m.w.Tracing() {
		m.w.TraceCall(f, sim.F("P", sim.Obj(blockName(b))), sim.F("Tag", sim.Int(uint64(tag))))
	}
	m.free(b, "ExFreePoolWithTag", true, tag)
	m.w.ReturnVoid(f)
}

// ExFreePool models ExFreePool.
func (m *Manager) ExFreePool(b *Block) {
	f := m.w.Begin("ExFreePool")
	if m.w.Tracing() {
		m.w.TraceCall(f, sim.F("P", sim.Obj(blockName(b))))
	}
	m.free(b, "ExFreePool", false, 0)
	m.w.ReturnVoid(f)
}

func (m *Manager) free(b *Block, fn string, withTag bool, tag uint32) {
	m.w.CheckIRQL(nt.DISPATCH_LEVEL)
	switch {
	case b == nil:
		m.w.Violate(RulePoolNull, fn+" with a NULL pool block")
		return
	case b.m != m:
		m.w.Misuse("irp.Manager."+fn, "%s belongs to another Manager (another world); the call was ignored", b.Name())
		return
	case b.freed:
		m.w.Violate(RulePoolDoubleFree, fn+" on "+b.Name()+", which was already freed", b.Name())
		return
	}
	if withTag && tag != b.tag {
		m.w.Violate(RulePoolTagMismatch, fmt.Sprintf("%s on %s with tag %s; it was allocated with tag %s", fn, b.Name(), TagString(tag), TagString(b.tag)), b.Name())
	}
	if b.lent > 0 {
		m.w.Violate(RulePoolFreeWhileLent, fn+" on "+b.Name()+" while "+m.lenderOf(b)+" still uses it", b.Name())
	}
	b.freed = true
	m.poolBytes -= uint64(len(b.data))
	last := m.blocks[len(m.blocks)-1]
	m.blocks[b.live] = last
	last.live = b.live
	m.blocks = m.blocks[:len(m.blocks)-1]
	b.live = -1
}

// lenderOf names the call (and IRP) that has b on loan, for reports.
func (m *Manager) lenderOf(b *Block) string {
	var by *IRP
	for _, i := range m.live {
		if i.st != stInFlight || (by != nil && by.num < i.num) {
			continue
		}
		for _, l := range i.lends {
			if l.b == b {
				by = i
				break
			}
		}
	}
	if by == nil {
		return "a pending call"
	}
	return by.submittedTo + " (" + by.Name() + ")"
}

func blockName(b *Block) string {
	if b == nil {
		return ""
	}
	return b.Name()
}
