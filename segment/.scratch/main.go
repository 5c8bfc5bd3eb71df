package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/remarket/remarket/internal/chserver"
)

func main() {
	s, err := chserver.Start(context.Background(), chserver.Options{Dir: "/tmp/segscratch"})
	if err != nil {
		panic(err)
	}
	fmt.Println("port", s.TCPPort)
	os.WriteFile("/tmp/segscratch.port", []byte(fmt.Sprint(s.TCPPort)), 0o644)
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	<-c
	s.Stop()
}
