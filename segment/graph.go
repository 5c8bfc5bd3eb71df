package segment

import (
	"errors"
	"fmt"
)

// task is one step of a run and the tasks it needs finished first.
type task struct {
	name  string
	after []string
	run   func() error
}

// runGraph runs tasks at most n at a time. A task starts once every task
// it names in after has finished; among the ready ones, the one listed
// first. After an error no task starts; every error is returned.
// (ClickHouse runs each query on the cores it gets, so n = 2 keeps both
// of a small machine's cores busy without queries fighting for them.)
func runGraph(n int, tasks []task) error {
	index := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		index[t.name] = true
	}
	for _, t := range tasks {
		for _, d := range t.after {
			if !index[d] {
				return fmt.Errorf("segment: task %s waits for unknown task %s", t.name, d) // a build defect
			}
		}
	}
	type result struct {
		i   int
		err error
	}
	done := map[string]bool{}
	started := make([]bool, len(tasks))
	finished := make(chan result)
	var errs []error
	running := 0
	for {
		for i, t := range tasks {
			if len(errs) > 0 || running >= n {
				break
			}
			if started[i] || !allDone(done, t.after) {
				continue
			}
			started[i] = true
			running++
			go func() { finished <- result{i, t.run()} }()
		}
		if running == 0 {
			break
		}
		r := <-finished
		running--
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		done[tasks[r.i].name] = true
	}
	if len(errs) == 0 && len(done) < len(tasks) {
		return errors.New("segment: tasks wait for each other") // a build defect: a cycle
	}
	return errors.Join(errs...)
}

func allDone(done map[string]bool, names []string) bool {
	for _, n := range names {
		if !done[n] {
			return false
		}
	}
	return true
}
