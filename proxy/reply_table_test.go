package proxy

import (
	"reflect"
	"testing"
)

// Every reply go-smtp's server can write of its own accord comes from
// filters/reply.go: a field left out of protocolReplies would fall back to
// go-smtp's default, a reply missing from the golden file and the docs.
func TestProtocolRepliesComplete(t *testing.T) {
	v := reflect.ValueOf(protocolReplies).Elem()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Errorf("protocolReplies sets no %s; declare it in filters/reply.go", v.Type().Field(i).Name)
		}
	}
}
