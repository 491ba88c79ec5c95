package filters

import "testing"

func TestReplyRendering(t *testing.T) {
	tests := []struct {
		r    Reply
		want string
	}{
		{ReplyRelayDenied.About("u@other.example").WithQueueID("4F2A9C01B3"), "554 5.7.1 <u@other.example>: Relay access denied; queue id 4F2A9C01B3"},
		{ReplyMalformed.Format("duplicate From header"), "550 5.6.0 Message rejected: duplicate From header"},
		{ReplyDNSBL.Format("127.0.0.2", "zen.example").Because("listed"), "554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using zen.example; listed"},
		{ReplyInternal.WithQueueID("A").WithQueueID("A"), "451 4.3.0 Internal error, try again later; queue id A"},
		{Reply{Code: 250, Text: "Ok"}, "250 Ok"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if !ReplySenderTempfail.Temporary() || ReplySenderTempfail.Permanent() {
		t.Error("450 must be temporary")
	}
	if p, ok := ReplySenderNullMX.EnhancedParts(); !ok || p != [3]int{5, 7, 27} {
		t.Errorf("enhanced parts = %v %v", p, ok)
	}
	if _, ok := (Reply{Code: 250}).EnhancedParts(); ok {
		t.Error("missing enhanced code must not parse")
	}
}
