package redisconn

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestOptions(t *testing.T) {
	cases := []struct {
		in      string
		ok      bool
		addrs   int
		db      int
		master  string
		cluster bool
		tls     bool
	}{
		{"redis://127.0.0.1:6379/2", true, 1, 2, "", false, false},
		{"rediss://:secret@cache.example:6380/0", true, 1, 0, "", false, true},
		{"redis://s1:26379/1?master_name=mymaster&addr=s2:26379", true, 2, 1, "mymaster", false, false},
		{"redis://n1:7000?addr=n2:7000&addr=n3:7000", true, 3, 0, "", true, false},
		{"redis://redis.internal", true, 1, 0, "", false, false},
		{"redis://:pw@[::1]:7000/0", true, 1, 0, "", false, false},
		{"redis://u:pw@h/1", true, 1, 1, "", false, false},
		{"redis:h", false, 0, 0, "", false, false},
		{"redis://h/-1", false, 0, 0, "", false, false},
		{"redis://h:0", false, 0, 0, "", false, false},
		{"redis://h/1?x=y", false, 0, 0, "", false, false},
		{"redis://", false, 0, 0, "", false, false},
		{"http://x:1/0", false, 0, 0, "", false, false},
		{"redis://h:1/notanumber", false, 0, 0, "", false, false},
	}
	for _, c := range cases {
		o, err := Options(c.in)
		if (err == nil) != c.ok {
			t.Errorf("Options(%q) error %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
			continue
		}
		if len(o.Addrs) != c.addrs || o.DB != c.db || o.MasterName != c.master || o.IsClusterMode != c.cluster || (o.TLSConfig != nil) != c.tls {
			t.Errorf("Options(%q) = %+v", c.in, o)
		}
	}
	if _, err := Options("redis://:secret@h:1/x"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL with a password: %v", err)
	}
}

// FuzzOptions: any store value is parsed or refused with an error that
// does not show its password, never a panic.
func FuzzOptions(f *testing.F) {
	for _, s := range []string{
		"redis://127.0.0.1:6379/0", "rediss://:pw@h:6380/1", "redis://u:pw@[::1]:7000/3",
		"redis://s1:26379/0?master_name=m&addr=s2:26379", "redis://n1:7000?addr=n2:7000&addr=n3:7000",
		"redis://h/0?dial_timeout=3s&max_retries=2", "redis://", "redis:h", "redis://h:0", "redis://h/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := Options(s)
		if err != nil {
			if strings.Contains(s, ":hunter2@") && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
			return
		}
		if len(o.Addrs) == 0 {
			t.Errorf("%q parsed to no address", s)
		}
	})
}

// OpenQuick's short timeouts and no retry apply where the URL sets none;
// what the URL sets stands.
func TestOpenQuick(t *testing.T) {
	c, err := OpenQuick("redis://127.0.0.1:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.(*redis.Client).Options()
	if o.ReadTimeout != QuickTimeout || o.WriteTimeout != QuickTimeout || o.DialTimeout != QuickTimeout ||
		o.PoolTimeout != QuickTimeout || o.MaxRetries != 0 {
		t.Errorf("quick client: read %v write %v dial %v pool %v retries %d; want %v each and no retry",
			o.ReadTimeout, o.WriteTimeout, o.DialTimeout, o.PoolTimeout, o.MaxRetries, QuickTimeout)
	}
	c2, err := OpenQuick("redis://127.0.0.1:6379/0?read_timeout=2s&max_retries=2")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if o := c2.(*redis.Client).Options(); o.ReadTimeout != 2*time.Second || o.MaxRetries != 2 {
		t.Errorf("URL's read_timeout=2s&max_retries=2 became %v, %d", o.ReadTimeout, o.MaxRetries)
	}
}
