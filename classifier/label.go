package classifier

import "fmt"

// Label is the classifier's verdict band.
type Label int

const (
	Ham Label = iota
	Unsure
	Spam
)

func (l Label) String() string {
	switch l {
	case Ham:
		return "ham"
	case Unsure:
		return "unsure"
	case Spam:
		return "spam"
	}
	return fmt.Sprintf("label(%d)", int(l))
}
