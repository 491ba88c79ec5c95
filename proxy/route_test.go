package proxy

import "testing"

func TestRouteSniffer(t *testing.T) {
	tests := []struct {
		name    string
		reads   []string
		mailbox string
		want    string
		ok      bool
	}{
		{"one read", []string{"RCPT TO:<@a.example:u@b.example>\r\n"}, "u@b.example", "@a.example:u@b.example", true},
		{"split across reads", []string{"RCPT T", "O:<@a,@c:u@b.example> NOTIFY=NEVER\r", "\n"}, "u@b.example", "@a,@c:u@b.example", true},
		{"pipelined", []string{"MAIL FROM:<x@y>\r\nrcpt to: <@r:v@b.example>\r\nDATA\r\n"}, "v@b.example", "@r:v@b.example", true},
		{"no route", []string{"RCPT TO:<u@b.example>\r\n"}, "u@b.example", "", false},
		{"line without end", []string{"RCPT TO:<@a:u@b.example>"}, "u@b.example", "", false},
		{"other mailbox", []string{"RCPT TO:<@a:u@b.example>\r\n"}, "w@b.example", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r routeSniffer
			for _, b := range tt.reads {
				r.feed([]byte(b))
			}
			got, ok := r.take(tt.mailbox)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("take(%q) = %q, %v; want %q, %v", tt.mailbox, got, ok, tt.want, tt.ok)
			}
			if ok {
				if _, again := r.take(tt.mailbox); again {
					t.Fatal("a path must be taken once")
				}
			}
		})
	}
}
