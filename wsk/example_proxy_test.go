package wsk_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/sim"
)

// The proxy flow of the semantics reference §7.8, end to end, through WSK.
// The helpers are in proxy_test.go: vendor.classify is the connect-redirect
// callout (FwpsRedirectHandleCreate0 once; per classify
// FwpsQueryConnectionRedirectState0, FwpsAcquireClassifyHandle0,
// FwpsAcquireWritableLayerDataPointer0, FwpsApplyModifiedLayerData0,
// FwpsReleaseClassifyHandle0), proxy.serve is the WSK proxy (WskAccept, both
// QUERY IOCTLs with the size probe, WskSocket, SIO_SET, WskBind, WskConnect)
// and lab.relay moves bytes with WskReceive and WskSend.

// printViolations prints the rule and the detail of each violation.
func printViolations(report string) {
	if report == "" {
		fmt.Println("violations: none")
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(report), "\n") {
		fmt.Println("violation:", line)
	}
}

// Example_proxy is one local WSK proxy. The application (a user-mode
// process) connects to 198.51.100.7:443; vendor A's callout redirects it to
// its proxy's listener on 127.0.0.1:9000 with the original destination as
// the redirect context. The proxy accepts, queries the records and the
// context on the accepted socket, sets the records on a new connection
// socket, binds and connects to the original destination: the callout sees
// its own redirect (REDIRECTED_BY_SELF) and permits. Bytes flow from the
// application to the server and back through the proxy.
func Example_proxy() {
	l := newLab(exampleTB{}, sim.Config{Seed: 1}, true)
	app, _ := l.p.AddProcess(600, "app.exe", false)
	server, _ := l.p.PeerListen(l.p.System(), netip.MustParseAddrPort("198.51.100.7:443"))
	vendorA := l.addVendor("vendorA", 10, netip.MustParseAddrPort("198.51.100.7:443"), netip.MustParseAddrPort("127.0.0.1:9000"), 500, otherLeave)
	proxyA := l.addProxy(500, netip.MustParseAddrPort("127.0.0.1:9000"))

	conn, st, _ := l.p.PeerConnect(app, netip.AddrPort{}, netip.MustParseAddrPort("198.51.100.7:443"))
	l.logf("app: connect -> %v (the app believes it talks to %v)", st, conn.Remote())
	pr := proxyA.serve()

	srv := server.Accept()
	conn.Send([]byte("GET / HTTP/1.1\r\n\r\n"))
	l.relayAll(pr.in, pr.out, 18)
	l.logf("server: got %q from %v", srv.Receive(0), srv.Remote())
	srv.Send([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	l.relayAll(pr.out, pr.in, 19)
	l.logf("app: got %q", conn.Receive(0))

	conn.Close()
	srv.Close()
	proxyA.closeAll()
	vendorA.destroy()
	fmt.Print(l.out.String())
	printViolations(l.finish())
	// Output:
	// vendorA: connect from pid 600 to 198.51.100.7:443: FWPS_CONNECTION_NOT_REDIRECTED
	// app: connect -> STATUS_SUCCESS (the app believes it talks to 198.51.100.7:443)
	// proxy 500: accepted 10.0.0.1:49152, records 96 bytes, original destination 198.51.100.7:443
	// vendorA: connect from pid 500 to 198.51.100.7:443: FWPS_CONNECTION_REDIRECTED_BY_SELF
	// proxy 500: WskConnect(198.51.100.7:443) -> STATUS_SUCCESS
	// server: got "GET / HTTP/1.1\r\n\r\n" from 10.0.0.1:49153
	// app: got "HTTP/1.1 200 OK\r\n\r\n"
	// violations: none
}

// Example_proxyForgetsSet is the proxy that never sets the records on its
// outbound socket: its connect is NOT_REDIRECTED again, the callout sends it
// back to the proxy, and the engine reports the loop, naming the flow, the
// application, the destination and every hop. At the end of the run the
// application's connection has not reached its destination and was never
// blocked: WFP-FLOW-UNFINISHED.
func Example_proxyForgetsSet() {
	l := newLab(exampleTB{}, sim.Config{Seed: 1}, true)
	app, _ := l.p.AddProcess(600, "app.exe", false)
	l.p.PeerListen(l.p.System(), netip.MustParseAddrPort("198.51.100.7:443"))
	vendorA := l.addVendor("vendorA", 10, netip.MustParseAddrPort("198.51.100.7:443"), netip.MustParseAddrPort("127.0.0.1:9000"), 500, otherLeave)
	proxyA := l.addProxy(500, netip.MustParseAddrPort("127.0.0.1:9000"))
	proxyA.mode = forgetSet

	conn, _, _ := l.p.PeerConnect(app, netip.AddrPort{}, netip.MustParseAddrPort("198.51.100.7:443"))
	proxyA.serve()

	conn.Close()
	proxyA.closeAll()
	vendorA.destroy()
	fmt.Print(l.out.String())
	printViolations(l.finish())
	// Output:
	// vendorA: connect from pid 600 to 198.51.100.7:443: FWPS_CONNECTION_NOT_REDIRECTED
	// proxy 500: accepted 10.0.0.1:49152, records 96 bytes, original destination 198.51.100.7:443
	// vendorA: connect from pid 500 to 198.51.100.7:443: FWPS_CONNECTION_NOT_REDIRECTED
	// proxy 500: WskConnect(198.51.100.7:443) -> STATUS_SUCCESS
	// violation: WFP-PROXY-LOOP at seq 91 in WskConnect [sock3 flow1]: proxy loop on flow1 (peer1, pid 600, to 198.51.100.7:443): hop 1 peer1 (pid 600) -> 127.0.0.1:9000 (pid 500) by H1 [flow1]; hop 2 sock3 (pid 500) -> 127.0.0.1:9000 (pid 500) by H1 again. sock3 connected to 198.51.100.7:443 without the redirect records of flow1: set SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS (the records SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS returned on the accepted socket) on the outbound socket before WskConnect
	// violation: WFP-FLOW-UNFINISHED [flow1 flow2]: flow1 (peer1, pid 600, to 198.51.100.7:443) never reached 198.51.100.7:443 and was never blocked: hop 1 peer1 (pid 600) -> 127.0.0.1:9000 (pid 500) by H1 [flow1]; hop 2 sock3 (pid 500) -> 127.0.0.1:9000 (pid 500) by H1 [flow2]; nothing was connected onward for flow2 after that (process 500)
}

// Example_proxyChain is two vendors' proxies chained. Vendor A (more
// weight) redirects the application to proxy A. Proxy A's connection
// carries A's records: A sees REDIRECTED_BY_SELF and permits, vendor B sees
// REDIRECTED_BY_OTHER and proxies it to proxy B. Proxy B's connection
// carries both hops: A sees PREVIOUSLY_REDIRECTED_BY_SELF (it must not
// redirect), B sees REDIRECTED_BY_SELF; the connection reaches the server.
func Example_proxyChain() {
	l := newLab(exampleTB{}, sim.Config{Seed: 1}, true)
	app, _ := l.p.AddProcess(600, "app.exe", false)
	server, _ := l.p.PeerListen(l.p.System(), netip.MustParseAddrPort("198.51.100.7:443"))
	dest := netip.MustParseAddrPort("198.51.100.7:443")
	vendorA := l.addVendor("vendorA", 20, dest, netip.MustParseAddrPort("127.0.0.1:9000"), 500, otherLeave)
	vendorB := l.addVendor("vendorB", 10, dest, netip.MustParseAddrPort("127.0.0.1:9001"), 501, otherReproxy)
	proxyA := l.addProxy(500, netip.MustParseAddrPort("127.0.0.1:9000"))
	proxyB := l.addProxy(501, netip.MustParseAddrPort("127.0.0.1:9001"))

	conn, _, _ := l.p.PeerConnect(app, netip.AddrPort{}, dest)
	a := proxyA.serve()
	b := proxyB.serve()
	srv := server.Accept()
	conn.Send([]byte("ping"))
	l.relayAll(a.in, a.out, 4)
	l.relayAll(b.in, b.out, 4)
	l.logf("server: got %q", srv.Receive(0))

	conn.Close()
	srv.Close()
	proxyA.closeAll()
	proxyB.closeAll()
	vendorA.destroy()
	vendorB.destroy()
	fmt.Print(l.out.String())
	printViolations(l.finish())
	// Output:
	// vendorA: connect from pid 600 to 198.51.100.7:443: FWPS_CONNECTION_NOT_REDIRECTED
	// proxy 500: accepted 10.0.0.1:49152, records 96 bytes, original destination 198.51.100.7:443
	// vendorA: connect from pid 500 to 198.51.100.7:443: FWPS_CONNECTION_REDIRECTED_BY_SELF
	// vendorB: connect from pid 500 to 198.51.100.7:443: FWPS_CONNECTION_REDIRECTED_BY_OTHER
	// proxy 500: WskConnect(198.51.100.7:443) -> STATUS_SUCCESS
	// proxy 501: accepted 127.0.0.1:49153, records 160 bytes, original destination 198.51.100.7:443
	// vendorA: connect from pid 501 to 198.51.100.7:443: FWPS_CONNECTION_PREVIOUSLY_REDIRECTED_BY_SELF
	// vendorB: connect from pid 501 to 198.51.100.7:443: FWPS_CONNECTION_REDIRECTED_BY_SELF
	// proxy 501: WskConnect(198.51.100.7:443) -> STATUS_SUCCESS
	// server: got "ping"
	// violations: none
}

// Example_proxySetAfterConnect is the proxy that sets the records after
// WskConnect: the connect was classified without them and looped back to
// the proxy, and the late SET fails with STATUS_INVALID_DEVICE_STATE
// (P-SETLATE) and WSK-SET-AFTER-CONNECT.
func Example_proxySetAfterConnect() {
	l := newLab(exampleTB{}, sim.Config{Seed: 1}, true)
	app, _ := l.p.AddProcess(600, "app.exe", false)
	l.p.PeerListen(l.p.System(), netip.MustParseAddrPort("198.51.100.7:443"))
	vendorA := l.addVendor("vendorA", 10, netip.MustParseAddrPort("198.51.100.7:443"), netip.MustParseAddrPort("127.0.0.1:9000"), 500, otherLeave)
	proxyA := l.addProxy(500, netip.MustParseAddrPort("127.0.0.1:9000"))
	proxyA.mode = setAfterConnect

	conn, _, _ := l.p.PeerConnect(app, netip.AddrPort{}, netip.MustParseAddrPort("198.51.100.7:443"))
	proxyA.serve()

	conn.Close()
	proxyA.closeAll()
	vendorA.destroy()
	fmt.Print(l.out.String())
	for _, v := range l.w.Violations() {
		fmt.Println("violation:", v.Rule)
	}
	l.finish()
	// Output:
	// vendorA: connect from pid 600 to 198.51.100.7:443: FWPS_CONNECTION_NOT_REDIRECTED
	// proxy 500: accepted 10.0.0.1:49152, records 96 bytes, original destination 198.51.100.7:443
	// vendorA: connect from pid 500 to 198.51.100.7:443: FWPS_CONNECTION_NOT_REDIRECTED
	// proxy 500: WskConnect(198.51.100.7:443) -> STATUS_SUCCESS
	// proxy 500: SET after connect -> STATUS_INVALID_DEVICE_STATE
	// violation: WFP-PROXY-LOOP
	// violation: WSK-SET-AFTER-CONNECT
}

// Example_proxyForgedRecords: SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS
// accepts only records the engine issued, unchanged, for the socket's owning
// process (P-ACC): a blob with one byte changed, and genuine records set on
// a socket of another process, both complete with STATUS_ACCESS_DENIED.
func Example_proxyForgedRecords() {
	l := newLab(exampleTB{}, sim.Config{Seed: 1}, false)
	app, _ := l.p.AddProcess(600, "app.exe", false)
	other, _ := l.p.AddProcess(700, "other.exe", true)
	vendorA := l.addVendor("vendorA", 10, netip.MustParseAddrPort("198.51.100.7:443"), netip.MustParseAddrPort("127.0.0.1:9000"), 500, otherLeave)
	proxyA := l.addProxy(500, netip.MustParseAddrPort("127.0.0.1:9000"))
	conn, _, _ := l.p.PeerConnect(app, netip.AddrPort{}, netip.MustParseAddrPort("198.51.100.7:443"))
	iosb := l.do(func(i *irp.IRP) nt.Status { return l.p.WskAccept(proxyA.ls, 0, nil, nil, nil, nil, i) })
	in := l.p.SocketFromInformation(iosb.Information)
	records, _ := proxyA.query(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS)

	out := l.socket(nt.WSK_FLAG_CONNECTION_SOCKET, proxyA.proc)
	forged := append([]byte(nil), records...)
	forged[36] ^= 0x01 // the hop's localRedirectTargetPID
	fmt.Println("SET forged records:", proxyA.set(out, forged))
	fmt.Println("SET genuine records:", proxyA.set(out, records))
	elsewhere := l.socket(nt.WSK_FLAG_CONNECTION_SOCKET, other)
	fmt.Println("SET on a socket of pid 700:", proxyA.set(elsewhere, records))

	l.close(elsewhere)
	l.close(out)
	l.close(in)
	conn.Close()
	proxyA.closeAll()
	vendorA.destroy()
	printViolations(l.finish())
	// Output:
	// SET forged records: STATUS_ACCESS_DENIED
	// SET genuine records: STATUS_SUCCESS
	// SET on a socket of pid 700: STATUS_ACCESS_DENIED
	// violations: none
}

// Example_proxyOversizedInput: a SET whose InputSize is 2^64-1 (a SIZE_T
// the caller got wrong) completes with STATUS_INTEGER_OVERFLOW (P-OVF (a))
// before the provider lends, reads or allocates anything: the 16-byte
// buffer behind it is never touched and the call allocates nothing.
func Example_proxyOversizedInput() {
	l := newLab(exampleTB{}, sim.Config{Seed: 1}, false)
	l.w.SetPolicy("P-SYNC", "inline")
	s := l.socket(nt.WSK_FLAG_CONNECTION_SOCKET, nil)
	buf := l.pool(nil, 16)
	i := l.m.IoAllocateIrp(1, false)
	var iosb irp.IoStatusBlock
	set := func() {
		l.m.IoReuseIrp(i, nt.STATUS_UNSUCCESSFUL)
		l.m.IoSetCompletionRoutine(i, labRoutine, &iosb, true, true, true)
		l.p.WskControlSocket(s, nt.WskIoctl, nt.SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0, 1<<64-1, buf, 0, nil, nil, i)
	}
	allocs := testing.AllocsPerRun(10, set)
	fmt.Println("SET with InputSize 18446744073709551615:", iosb.Status, "Information", iosb.Information)
	fmt.Println("Go allocations per call:", allocs)
	fmt.Println("socket holds records:", s.Records() != nil)

	l.m.IoFreeIrp(i)
	l.free(buf)
	l.close(s)
	printViolations(l.finish())
	// Output:
	// SET with InputSize 18446744073709551615: STATUS_INTEGER_OVERFLOW Information 0
	// Go allocations per call: 0
	// socket holds records: false
	// violations: none
}

// exampleTB lets the lab helpers run in an example: a failure panics.
type exampleTB struct{}

func (exampleTB) Helper()                           {}
func (exampleTB) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (exampleTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (exampleTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
