package segment

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestRunGraphKeepsOrderAndLimit(t *testing.T) {
	var mu sync.Mutex
	var log []string
	running, most := 0, 0
	step := func(name string) func() error {
		return func() error {
			mu.Lock()
			log = append(log, "start "+name)
			running++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			running--
			log = append(log, "end "+name)
			mu.Unlock()
			return nil
		}
	}
	err := runGraph(2, []task{
		{name: "a", run: step("a")},
		{name: "b", after: []string{"a"}, run: step("b")},
		{name: "c", run: step("c")},
		{name: "d", run: step("d")},
		{name: "e", after: []string{"b", "d"}, run: step("e")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if most != 2 {
		t.Errorf("at most %d tasks ran at once, want 2", most)
	}
	pos := func(s string) int { return slices.Index(log, s) }
	for _, dep := range [][2]string{{"a", "b"}, {"b", "e"}, {"d", "e"}} {
		if pos("end "+dep[0]) > pos("start "+dep[1]) {
			t.Errorf("%s started before %s ended: %v", dep[1], dep[0], log)
		}
	}
	// a and c are the first two ready; d waits for a free slot.
	if pos("start d") < pos("start c") {
		t.Errorf("d started before c although listed after it: %v", log)
	}
}

func TestRunGraphStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	ran := false
	err := runGraph(1, []task{
		{name: "a", run: func() error { return boom }},
		{name: "b", run: func() error { ran = true; return nil }},
	})
	if !errors.Is(err, boom) || ran {
		t.Fatalf("err = %v, b ran = %v; want boom and b not started", err, ran)
	}
}

func TestRunGraphRejectsUnknownAndCyclicDependencies(t *testing.T) {
	nop := func() error { return nil }
	if err := runGraph(2, []task{{name: "a", after: []string{"x"}, run: nop}}); err == nil {
		t.Error("unknown dependency accepted")
	}
	if err := runGraph(2, []task{{name: "a", after: []string{"b"}, run: nop}, {name: "b", after: []string{"a"}, run: nop}}); err == nil {
		t.Error("cycle accepted")
	}
}
