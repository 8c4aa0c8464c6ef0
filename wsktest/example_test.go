package wsktest_test

import (
	"fmt"
	"os"

	"github.com/wsksim/wsksim/irp"
	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
	"github.com/wsksim/wsksim/wsktest"
)

// SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS with genuine records, with a
// SIZE_T InputSize above MAXULONG (STATUS_INTEGER_OVERFLOW, policy P-OVF)
// and on a socket of a non-elevated process (STATUS_ACCESS_DENIED, P-ACC).
// In a test, pass t instead of the Printer.
func Example() {
	t := wsktest.NewPrinter(os.Stdout)
	e := wsktest.New(t)
	s := e.Socket(nt.WSK_FLAG_CONNECTION_SOCKET)
	fmt.Println("SET:", e.SetRecords(s, e.Records(wsk.SystemPID)).Status)
	fmt.Println("SET, InputSize 2^32:", e.SetRecords(s, e.Records(wsk.SystemPID), 1<<32).Status)
	user := e.SocketOf(e.Process(700, "user.exe", false), nt.AF_INET, nt.WSK_FLAG_CONNECTION_SOCKET)
	fmt.Println("SET, non-elevated owner:", e.SetRecords(user, e.Records(700)).Status)
	e.CloseSocket(s)
	e.CloseSocket(user)
	fmt.Println("passed:", t.Finish())
	// Output:
	// SET: STATUS_SUCCESS
	// SET, InputSize 2^32: STATUS_INTEGER_OVERFLOW
	// SET, non-elevated owner: STATUS_ACCESS_DENIED
	// passed: true
}

// A transparent proxy: an application's connection to 198.51.100.7:443 was
// redirected to the proxy's listener. The proxy accepts it, queries the
// redirect records, sets them on its outbound socket before connecting to
// the original destination, and relays. Forgetting the SET would make WFP
// redirect the proxy's own connect back to it (WFP-PROXY-LOOP).
func Example_proxy() {
	t := wsktest.NewPrinter(os.Stdout)
	e := wsktest.New(t)
	server := e.PeerListen(nil, "198.51.100.7:443")

	ls := e.Socket(nt.WSK_FLAG_LISTEN_SOCKET)
	e.Bind(ls, "127.0.0.1:9000")
	app := e.Redirected("10.0.0.1:50000", "198.51.100.7:443", "127.0.0.1:9000", []byte{0xc0, 0xff, 0xee}, wsk.SystemPID)
	in := e.Accept(ls)
	records, st := e.Query(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS)
	fmt.Println("QUERY records:", st, len(records), "bytes")
	ctx, st := e.Query(in, nt.SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT)
	fmt.Printf("QUERY context: %v %x\n", st, ctx)

	out := e.Socket(nt.WSK_FLAG_CONNECTION_SOCKET)
	fmt.Println("SET:", e.SetRecords(out, records).Status)
	fmt.Println("WskBind:", e.Bind(out, "0.0.0.0:0").Status)
	fmt.Println("WskConnect:", e.Connect(out, "198.51.100.7:443").Status, "reached server:", server.Accept() != nil)

	for _, s := range []*wsk.Socket{out, in, ls} {
		e.CloseSocket(s)
	}
	app.Close()
	server.Close()
	fmt.Println("passed:", t.Finish())
	// Output:
	// QUERY records: STATUS_SUCCESS 96 bytes
	// QUERY context: STATUS_SUCCESS c0ffee
	// SET: STATUS_SUCCESS
	// WskBind: STATUS_SUCCESS
	// WskConnect: STATUS_SUCCESS reached server: true
	// passed: true
}

// A test that breaks a rule on purpose declares it with Expect; any other
// violation still fails the test when it ends.
func ExampleEnv_Expect() {
	t := wsktest.NewPrinter(os.Stdout)
	e := wsktest.New(t)
	e.Expect("POOL-DOUBLE-FREE")
	b := e.Pool([]byte("records"), 0)
	e.Free(b)
	e.Free(b)
	for _, v := range e.Violations() {
		fmt.Println("violation:", v.Rule)
	}
	fmt.Println("passed:", t.Finish())
	// Output:
	// violation: POOL-DOUBLE-FREE
	// passed: true
}

// Call returns the IoStatus the completion routine saw, whether the call
// completed inline or pended.
func ExampleEnv_Call() {
	t := wsktest.NewPrinter(os.Stdout)
	e := wsktest.New(t, wsktest.Policy("P-SYNC", "pending"))
	iosb := e.Call(func(i *irp.IRP) nt.Status {
		return e.NPI.Dispatch.WskSocket(e.NPI.Client, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP,
			nt.WSK_FLAG_CONNECTION_SOCKET, nil, nil, nil, nil, nil, i)
	})
	fmt.Println(iosb.Status, e.P.SocketFromInformation(iosb.Information) != nil)
	e.CloseSocket(e.P.SocketFromInformation(iosb.Information))
	fmt.Println("passed:", t.Finish())
	// Output:
	// STATUS_SUCCESS true
	// passed: true
}

// Pool tags are written as their characters in memory order, as debuggers
// and wsktrace show them.
func ExampleTag() {
	fmt.Printf("%#x %s\n", wsktest.Tag("Wsks"), irp.TagString(wsktest.Tag("Wsks")))
	// Output: 0x736b7357 Wsks
}

// A directory of scenario files (docs/scenarios.md) runs from go test with
// wsktest.RunScenarios(t, "testdata/scenarios"), one subtest per file;
// CheckScenarios returns the same results without a testing.T.
func ExampleCheckScenarios() {
	rs, err := wsktest.CheckScenarios("testdata/scenarios", 1, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rs {
		fmt.Printf("%s seed %d: %d commands, failure %q\n", r.Path, r.Seed, r.Result.Commands, r.Failure())
	}
	// Output:
	// testdata/scenarios/double-free.txt seed 1: 7 commands, failure ""
	// testdata/scenarios/double-free.txt seed 2: 7 commands, failure ""
	// testdata/scenarios/oversized-input.txt seed 1: 52 commands, failure ""
	// testdata/scenarios/oversized-input.txt seed 2: 52 commands, failure ""
}
