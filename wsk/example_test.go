package wsk_test

import (
	"fmt"
	"net/netip"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
	"github.com/wsksim/wsksim/wsk"
)

// exampleRoutine is a driver's completion routine: it records the result
// and keeps the IRP (STATUS_MORE_PROCESSING_REQUIRED), as every routine of a
// driver-allocated IRP must.
func exampleRoutine(i *irp.IRP, ctx any) nt.Status {
	*ctx.(*irp.IoStatusBlock) = i.IoStatus
	return nt.STATUS_MORE_PROCESSING_REQUIRED
}

// call runs one WSK call with a fresh IRP and waits (in virtual time) for it.
func call(w *sim.World, m *irp.Manager, fn func(i *irp.IRP) nt.Status) irp.IoStatusBlock {
	var iosb irp.IoStatusBlock
	i := m.IoAllocateIrp(1, false)
	m.IoSetCompletionRoutine(i, exampleRoutine, &iosb, true, true, true)
	fn(i)
	w.RunUntilIdle()
	m.IoFreeIrp(i)
	return iosb
}

// A proxy copies the redirect records of an accepted connection to its
// outbound socket with SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS before it
// connects, so WFP does not redirect the proxy's own connection again.
func ExampleProvider_WskControlSocket() {
	w := sim.NewWorld(sim.Config{Seed: 1})
	m := irp.NewManager(w)
	p, _ := wsk.NewProvider(m, wsk.Config{})

	var reg wsk.Registration
	var npi wsk.ProviderNPI
	p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &reg)
	p.WskCaptureProviderNPI(&reg, nt.WSK_INFINITE_WAIT, &npi)

	// Records as a redirect issued them for this (System-owned) proxy.
	records, _ := p.Engine().IssueRedirect("H1", netip.MustParseAddrPort("10.0.0.1:50000"),
		netip.MustParseAddrPort("198.51.100.7:443"), netip.MustParseAddrPort("127.0.0.1:9000"), nil, wsk.SystemPID, nil)
	server, _ := p.PeerListen(p.System(), netip.MustParseAddrPort("198.51.100.7:443"))

	iosb := call(w, m, func(i *irp.IRP) nt.Status {
		return npi.Dispatch.WskSocket(npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, i)
	})
	out := p.SocketFromInformation(iosb.Information)

	blob := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, uint64(len(records)), 0x736b7357)
	copy(blob.Bytes(), records)
	iosb = call(w, m, func(i *irp.IRP) nt.Status {
		return p.WskControlSocket(out, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0,
			uint64(len(records)), blob, 0, nil, nil, i)
	})
	fmt.Println("SET:", iosb.Status)
	m.ExFreePoolWithTag(blob, 0x736b7357) // only after the IRP completed

	iosb = call(w, m, func(i *irp.IRP) nt.Status { return p.WskBind(out, netip.MustParseAddrPort("0.0.0.0:0"), 0, i) })
	fmt.Println("WskBind:", iosb.Status)
	iosb = call(w, m, func(i *irp.IRP) nt.Status {
		return p.WskConnect(out, netip.MustParseAddrPort("198.51.100.7:443"), 0, i)
	})
	fmt.Println("WskConnect:", iosb.Status, "reached server:", server.Accept() != nil)

	call(w, m, func(i *irp.IRP) nt.Status { return p.WskCloseSocket(out, i) })
	p.WskReleaseProviderNPI(&reg)
	p.WskDeregister(&reg)
	w.Close()
	fmt.Println("violations:", w.ViolationCount())
	// Output:
	// SET: STATUS_SUCCESS
	// WskBind: STATUS_SUCCESS
	// WskConnect: STATUS_SUCCESS reached server: true
	// violations: 0
}

// Both sizing patterns of SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS on the
// accepted socket of a redirected connection: a NULL/0 probe, then a buffer
// of the reported size; and a large first guess that is too small.
func ExampleProvider_WskControlSocket_query() {
	w := sim.NewWorld(sim.Config{Seed: 2})
	m := irp.NewManager(w)
	p, _ := wsk.NewProvider(m, wsk.Config{})
	var reg wsk.Registration
	var npi wsk.ProviderNPI
	p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &reg)
	p.WskCaptureProviderNPI(&reg, nt.WSK_NO_WAIT, &npi)

	iosb := call(w, m, func(i *irp.IRP) nt.Status {
		return p.WskSocket(npi.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, nt.WSK_FLAG_LISTEN_SOCKET, nil, nil, nil, nil, nil, i)
	})
	ls := p.SocketFromInformation(iosb.Information)
	call(w, m, func(i *irp.IRP) nt.Status { return p.WskBind(ls, netip.MustParseAddrPort("127.0.0.1:9000"), 0, i) })
	app, _ := p.RedirectedConnect("app1", netip.MustParseAddrPort("192.0.2.10:50000"), netip.MustParseAddrPort("198.51.100.7:443"),
		netip.MustParseAddrPort("127.0.0.1:9000"), "H1", []byte{0xc0, 0xff, 0xee}, wsk.SystemPID)
	iosb = call(w, m, func(i *irp.IRP) nt.Status { return p.WskAccept(ls, 0, nil, nil, nil, nil, i) })
	in := p.SocketFromInformation(iosb.Information)

	query := func(size uint64, buf *irp.Block) (irp.IoStatusBlock, uint64) {
		var returned uint64
		iosb := call(w, m, func(i *irp.IRP) nt.Status {
			return p.WskControlSocket(in, nt.WskIoctl, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0, 0, nil, size, buf, &returned, i)
		})
		return iosb, returned
	}
	// Pattern 2: OutputSize 0, OutputBuffer NULL.
	probe, need := query(0, nil)
	fmt.Println("probe:", probe.Status, "needs", need, "bytes")
	buf := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, need, 0x736b7357)
	got, n := query(need, buf)
	fmt.Println("query:", got.Status, "Information", got.Information, "OutputSizeReturned", n)
	m.ExFreePoolWithTag(buf, 0x736b7357)
	// Pattern 1: a buffer that turns out too small reports the size the same way.
	small := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 64, 0x736b7357)
	short, n := query(64, small)
	fmt.Println("64-byte buffer:", short.Status, "OutputSizeReturned", n)
	m.ExFreePoolWithTag(small, 0x736b7357)

	call(w, m, func(i *irp.IRP) nt.Status { return p.WskCloseSocket(in, i) })
	call(w, m, func(i *irp.IRP) nt.Status { return p.WskCloseSocket(ls, i) })
	app.Close()
	p.WskReleaseProviderNPI(&reg)
	p.WskDeregister(&reg)
	w.Close()
	fmt.Println("violations:", w.ViolationCount())
	// Output:
	// probe: STATUS_BUFFER_TOO_SMALL needs 96 bytes
	// query: STATUS_SUCCESS Information 96 OutputSizeReturned 96
	// 64-byte buffer: STATUS_BUFFER_TOO_SMALL OutputSizeReturned 96
	// violations: 0
}

// A UDP proxy receives the redirect records (and context) as control
// information of the first datagram of a redirected flow, and passes the
// records on as control information of its own first datagram to the
// original destination, so WFP does not redirect that datagram back to it.
func ExampleProvider_WskReceiveFrom() {
	w := sim.NewWorld(sim.Config{Seed: 1})
	m := irp.NewManager(w)
	p, _ := wsk.NewProvider(m, wsk.Config{})
	var reg wsk.Registration
	var npi wsk.ProviderNPI
	p.WskRegister(&wsk.ClientNPI{Dispatch: &wsk.ClientDispatch{Version: nt.MAKE_WSK_VERSION(1, 0)}}, &reg)
	p.WskCaptureProviderNPI(&reg, nt.WSK_INFINITE_WAIT, &npi)

	// A WFP redirect policy sends flows to 198.51.100.7:53 to the proxy at
	// 127.0.0.1:5300 (System, pid 4), with the original destination as context.
	dns := netip.MustParseAddrPort("198.51.100.7:53")
	_ = p.Engine().AddRedirectPolicy("P1", dns, netip.MustParseAddrPort("127.0.0.1:5300"), []byte(dns.String()), wsk.SystemPID)
	server, _ := p.PeerUDPBind(p.System(), dns)
	app, _ := p.PeerUDPBind(p.System(), netip.MustParseAddrPort("10.0.0.1:40000"))

	dgram := func(at string) *wsk.Socket {
		iosb := call(w, m, func(i *irp.IRP) nt.Status {
			return npi.Dispatch.WskSocket(npi.Client, nt.AF_INET, nt.SOCK_DGRAM, nt.IPPROTO_UDP, nt.WSK_FLAG_DATAGRAM_SOCKET, nil, nil, nil, nil, nil, i)
		})
		s := p.SocketFromInformation(iosb.Information)
		call(w, m, func(i *irp.IRP) nt.Status { return p.WskBind(s, netip.MustParseAddrPort(at), 0, i) })
		return s
	}
	in, out := dgram("127.0.0.1:5300"), dgram("10.0.0.1:0")

	app.SendTo(dns, []byte("query"))
	data := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 512, 0x736b7357)
	ctl := m.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, 1024, 0x736b7357)
	var from netip.AddrPort
	ctlLen := uint32(1024)
	iosb := call(w, m, func(i *irp.IRP) nt.Status {
		return p.WskReceiveFrom(in, &wsk.Buf{Block: data, Length: 512}, 0, &from, &ctlLen, ctl, nil, i)
	})
	objs, _ := wsk.ParseCMSG(ctl.Bytes()[:ctlLen])
	fmt.Printf("proxy got %d bytes from %v with %d control objects; context %q\n", iosb.Information, from, len(objs), objs[1].Data)

	records := wsk.AppendCMSG(nil, nt.IPPROTO_IP, nt.IP_WFP_REDIRECT_RECORDS, objs[0].Data)
	copy(ctl.Bytes(), records)
	iosb = call(w, m, func(i *irp.IRP) nt.Status {
		return p.WskSendTo(out, &wsk.Buf{Block: data, Length: iosb.Information}, 0, &dns, uint32(len(records)), ctl, i)
	})
	dg, ok := server.Receive()
	fmt.Println("WskSendTo:", iosb.Status, "server received:", ok, string(dg.Data))
	// Output:
	// proxy got 5 bytes from 10.0.0.1:40000 with 2 control objects; context "198.51.100.7:53"
	// WskSendTo: STATUS_SUCCESS server received: true query
}
