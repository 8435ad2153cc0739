// Command goplugin is the Go test plugin of host/plugin/grpc: the logic of
// ../../internal/testplugin served as a gRPC subprocess. Its flags make it
// misbehave at the handshake:
//
//	-abi N        its manifest states plugin ABI N
//	-handshake N  it announces go-plugin protocol version N and serves nothing
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/valuescope/valuescope/host/plugin/grpc/internal/testplugin"
	sdkgrpc "github.com/valuescope/valuescope/sdk/grpc"
)

func main() {
	abi := flag.Uint("abi", 0, "the ABI the manifest states (0: the SDK's)")
	handshake := flag.Int("handshake", 0, "announce this go-plugin protocol version instead of serving")
	flag.Parse()
	if *handshake != 0 {
		fmt.Printf("1|%d|tcp|127.0.0.1:1|grpc\n", *handshake)
		time.Sleep(time.Hour)
		os.Exit(1)
	}
	sdkgrpc.Serve(&testplugin.Plugin{ABI: uint32(*abi)})
}
