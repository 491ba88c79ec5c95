package main

import (
	"testing"
	"time"

	"mailguard/filters"
)

func TestArrival(t *testing.T) {
	want := time.Date(2002, 8, 23, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, msg string
		want      time.Time
	}{
		{"newest Received", "Received: from a by b; Fri, 23 Aug 2002 10:00:00 +0000\nReceived: from c by a; Thu, 22 Aug 2002 10:00:00 +0000\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n\nx\n", want},
		{"folded, with a zone comment", "Received: from a (a [192.0.2.1])\n\tby b with ESMTP id 1;\n\tFri, 23 Aug 2002 11:00:00 +0100 (IST)\n\nx\n", want},
		{"no Received: the Date", "Date: Fri, 23 Aug 2002 10:00:00 +0000\n\nx\n", want},
		{"Received without a date: the Date", "Received: from a by b\nDate: Fri, 23 Aug 2002 10:00:00 +0000\n\nx\n", want},
	} {
		got := arrival(filters.NewMessage([]byte(c.msg)).Header)
		if !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := arrival(filters.NewMessage([]byte("Subject: x\n\nx\n")).Header); time.Since(got) > time.Minute {
		t.Errorf("no date at all: %v, want now", got)
	}
}

func TestWithoutEnvelopeLine(t *testing.T) {
	for in, want := range map[string]string{
		"From a@b Fri Aug 23 10:00:00 2002\nFrom: a@b\n\nx\n": "From: a@b\n\nx\n",
		"From: a@b\n\nx\n": "From: a@b\n\nx\n",
		"From a@b":         "",
	} {
		if got := string(withoutEnvelopeLine([]byte(in))); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
