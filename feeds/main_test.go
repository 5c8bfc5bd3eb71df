package feeds_test

import (
	"testing"

	"github.com/remarket/remarket/internal/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }
