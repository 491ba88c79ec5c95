package storetest_test

import (
	"testing"

	"mailguard/classifier"
	"mailguard/classifier/storetest"
)

func TestMemStore(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) classifier.Store { return classifier.NewMemStore() },
	})
}
