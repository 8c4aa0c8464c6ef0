package sim_test

import (
	"fmt"

	"github.com/wsksim/wsksim/sim"
)

// A seeded world runs scheduled tasks in virtual time; a choice point answered
// by the seeded PRNG decides the delay, so the same seed prints the same run.
func ExampleWorld() {
	w := sim.NewWorld(sim.Config{Seed: 1})
	w.Schedule(50, sim.TaskFunc(func() { fmt.Println("timer fired at", w.Now()) }))
	w.Schedule(10, sim.TaskFunc(func() {
		d := sim.Time(1+w.Choose("example.delay", 3)) * 100
		fmt.Println("first task at", w.Now(), "schedules another after", d)
		w.Schedule(d, sim.TaskFunc(func() { fmt.Println("second task at", w.Now()) }))
	}))
	if err := w.RunUntilIdle(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("idle at", w.Now(), "pending", w.Pending())
	// Output:
	// first task at 10ns schedules another after 300ns
	// timer fired at 50ns
	// second task at 310ns
	// idle at 310ns pending 0
}
