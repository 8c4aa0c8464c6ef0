package wsk_test

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
	"github.com/wsksim/wsksim/wsktest"
)

// The package walkthrough, runnable: a client registered by wsktest.New
// creates a connection socket, sets redirect records on it with
// SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS (a pool block lent to the IRP
// until it completes), binds and connects. Each IRP is allocated, given a
// completion routine with all three InvokeOn flags, and freed by
// wsktest.Env.Call, which returns the IoStatus the routine saw.
func Example_walkthrough() {
	t := wsktest.NewPrinter(os.Stdout)
	e := wsktest.New(t) // sim.World, irp.Manager, wsk.Provider, WskRegister, WskCaptureProviderNPI
	server := e.PeerListen(nil, "198.51.100.7:443")

	iosb := e.Call(func(i *irp.IRP) nt.Status {
		return e.NPI.Dispatch.WskSocket(e.NPI.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP,
			nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, i)
	})
	s := e.P.SocketFromInformation(iosb.Information)
	fmt.Println("WskSocket:", iosb.Status)

	records := e.Records(wsk.SystemPID)
	blob := e.M.ExAllocatePool2(irp.POOL_FLAG_NON_PAGED, uint64(len(records)), wsktest.Tag("Wsks"))
	copy(blob.Bytes(), records)
	iosb = e.Call(func(i *irp.IRP) nt.Status {
		return e.P.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0,
			uint64(len(records)), blob, 0, nil, nil, i)
	})
	e.M.ExFreePoolWithTag(blob, wsktest.Tag("Wsks")) // only after the IRP completed
	fmt.Println("SET:", iosb.Status)

	iosb = e.Call(func(i *irp.IRP) nt.Status { return e.P.WskBind(s, netip.MustParseAddrPort("0.0.0.0:0"), 0, i) })
	fmt.Println("WskBind:", iosb.Status)
	iosb = e.Call(func(i *irp.IRP) nt.Status {
		return e.P.WskConnect(s, netip.MustParseAddrPort("198.51.100.7:443"), 0, i)
	})
	fmt.Println("WskConnect:", iosb.Status, "accepted by the server:", server.Accept() != nil)

	e.CloseSocket(s)
	fmt.Println("passed:", t.Finish()) // WskReleaseProviderNPI, WskDeregister, world close, violations
	// Output:
	// WskSocket: STATUS_SUCCESS
	// SET: STATUS_SUCCESS
	// WskBind: STATUS_SUCCESS
	// WskConnect: STATUS_SUCCESS accepted by the server: true
	// passed: true
}
