package rules

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMilterSection(t *testing.T) {
	dir := t.TempDir()
	notSocket := filepath.Join(dir, "file")
	os.WriteFile(notSocket, nil, 0o600)
	runCases(t, []keyCase{
		{name: "defaults", yaml: "milter: {listen: 127.0.0.1:8891}\n", check: func(c *Config) bool {
			return c.Milter.SocketMode == "0660" && c.Milter.QuarantineAction == "discard" && c.Milter.RelayControl == "mta"
		}},
		{name: "unix socket", yaml: "milter:\n  listen: unix:" + dir + "/milter.sock\n  socket_mode: 0600\n  quarantine_action: hold\n  relay_control: mailguard\n", check: func(c *Config) bool {
			m, _ := ParseSocketMode(c.Milter.SocketMode)
			return c.Milter.Listen == "unix:"+dir+"/milter.sock" && m == 0o600 && c.Milter.QuarantineAction == "hold" && c.Milter.RelayControl == "mailguard"
		}},
		{name: "relative socket", yaml: "milter:\n  listen: unix:milter.sock\n", want: []string{`2: milter.listen: "unix:milter.sock": the socket path must be absolute`}},
		{name: "socket in a missing directory", yaml: "milter:\n  listen: unix:" + dir + "/no/milter.sock\n", want: []string{`2: milter.listen: "unix:` + dir + `/no/milter.sock": directory ` + dir + `/no does not exist`}},
		{name: "socket path is a file", yaml: "milter:\n  listen: unix:" + notSocket + "\n", want: []string{`2: milter.listen: "unix:` + notSocket + `": ` + notSocket + ` exists and is not a socket`}},
		{name: "no port", yaml: "milter:\n  listen: /run/milter.sock\n", want: []string{`2: milter.listen: "/run/milter.sock" is not host:port or unix:/path`}},
		{name: "mode not octal", yaml: "milter:\n  socket_mode: rw-rw----\n", want: []string{`2: milter.socket_mode: "rw-rw----" is not an octal permission`}},
		{name: "mode too big", yaml: "milter:\n  socket_mode: '7777'\n", want: []string{`2: milter.socket_mode: "7777" is not an octal permission`}},
		{name: "quarantine action", yaml: "milter:\n  quarantine_action: reject\n", want: []string{`2: milter.quarantine_action: must be discard or hold, got "reject"`}},
		{name: "relay control", yaml: "milter:\n  relay_control: none\n", want: []string{`2: milter.relay_control: must be mta or mailguard, got "none"`}},
		{name: "unknown key", yaml: "milter:\n  timeout: 5s\n", want: []string{`2: milter.timeout: unknown key`}},
	})
}
