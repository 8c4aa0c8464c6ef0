package wsk_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wsksim/wsksim/nt"
	"github.com/wsksim/wsksim/wsk"
)

// TestZeroValueMisuse: zero and nil peers and providers, which Go code can
// make by mistake, answer with an error or a zero result instead of a
// nil-pointer panic; a modelled call on a zero Provider panics with a message
// that names the constructor.
func TestZeroValueMisuse(t *testing.T) {
	var pc wsk.PeerConn
	var nilPC *wsk.PeerConn
	for _, c := range []*wsk.PeerConn{&pc, nilPC} {
		if err := c.Send([]byte("x")); err == nil || !strings.Contains(err.Error(), "wsk.PeerConn.Send: nil or zero PeerConn") {
			t.Errorf("Send on a zero PeerConn: %v", err)
		}
		c.Shutdown()
		c.Close()
		c.Reset()
		if c.Receive(0) != nil || c.Pending() != 0 || c.GotFIN() || c.GotReset() || c.Local().IsValid() || c.Remote().IsValid() {
			t.Error("a zero PeerConn reports state")
		}
	}
	if nilPC.Name() != "NULL" {
		t.Errorf("nil PeerConn Name = %q", nilPC.Name())
	}
	var pl *wsk.PeerListener
	if pl.Accept() != nil {
		t.Error("nil PeerListener accepted a connection")
	}
	pl.Close()

	var p wsk.Provider
	if _, err := p.PeerListen(nil, netip.MustParseAddrPort("127.0.0.1:80")); err == nil || !strings.Contains(err.Error(), "wsk.NewProvider") {
		t.Errorf("PeerListen on a zero Provider: %v", err)
	}
	msg := func() (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		p.WskSocket(nil, nt.AF_INET, nt.SOCK_STREAM, nt.IPPROTO_TCP, 0, nil, nil, nil, nil, nil, nil)
		return "no panic"
	}()
	if !strings.Contains(msg, "WskSocket") || !strings.Contains(msg, "wsk.NewProvider") {
		t.Errorf("WskSocket on a zero Provider: panic %q, want one naming the call and wsk.NewProvider", msg)
	}
}
