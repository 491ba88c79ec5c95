package classifier

import "errors"

var errClosed = errors.New("token store closed")
