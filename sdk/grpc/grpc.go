// Package grpc serves an sdk.Plugin as a subprocess speaking protocol v1 over
// gRPC, through hashicorp/go-plugin. A plugin's main package is, in full:
//
//	package main
//
//	import "github.com/valuescope/valuescope/sdk/grpc"
//
//	func main() { grpc.Serve(myPlugin) }
//
// built with an ordinary go build, and named in a run config as
// "grpc:path/to/binary ARGS...". The host (host/plugin/grpc) starts the
// binary, checks its manifest, configures it, and then sends it
// conversations — several at once: Process is called concurrently from many
// goroutines, so a plugin keeps no per-call state outside the request (the
// protocol's State field carries what it must remember between rounds).
//
// What goes over the wire (for a plugin author in another language, see
// sdk/examples/python/README.md):
//
//   - the host sets the environment variable MagicCookieKey to
//     MagicCookieValue; a plugin started without it is being run by hand
//     and says so;
//   - the plugin listens on a local address and prints one line on stdout,
//     "1|1|tcp|127.0.0.1:PORT|grpc": go-plugin's core protocol (1), the
//     plugin protocol version (protocol.ABI), the network, the address and
//     "grpc";
//   - it serves the valuescope.plugin.v1.Plugin service of
//     sdk/proto/valuescope/plugin/v1/plugin.proto and the standard
//     grpc.health.v1.Health service, answering SERVING for service "plugin".
//
// This package also holds the one set of conversions between the
// sdk/protocol structs and the generated protobuf messages; the host uses
// them too.
package grpc

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/valuescope/valuescope/sdk"
	pluginv1 "github.com/valuescope/valuescope/sdk/proto/valuescope/plugin/v1"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// The go-plugin handshake. The cookie is not a secret: it only tells a
// plugin binary that a valuescope host started it (run by hand, it prints a
// hint and exits). It never changes; the protocol version does, with the ABI.
const (
	MagicCookieKey   = "VALUESCOPE_PLUGIN"
	MagicCookieValue = "3a1c5e0f-valuescope-plugin"
)

// Handshake is what host and plugin must agree on before any call. Its
// ProtocolVersion is the plugin ABI (protocol.ABI): go-plugin refuses a
// plugin of another version before a byte of protocol v1 is exchanged.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  protocol.ABI,
	MagicCookieKey:   MagicCookieKey,
	MagicCookieValue: MagicCookieValue,
}

// PluginName is the one entry in the go-plugin plugin map.
const PluginName = "plugin"

// MaxMessageSize bounds one message either way (a conversation, a reply):
// 64 MiB, as the Wasm backend bounds a reply. gRPC's default is 4 MiB.
const MaxMessageSize = 64 << 20

// Plugins is the go-plugin plugin set of protocol v1. The host dispenses a
// pluginv1.PluginClient from it; Serve fills in the server side.
func Plugins(impl sdk.Plugin) goplugin.PluginSet {
	return goplugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl}}
}

// GRPCPlugin is the go-plugin glue for protocol v1: on the plugin's side it
// registers the service for Impl, on the host's it hands out a
// pluginv1.PluginClient.
type GRPCPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	Impl sdk.Plugin // the plugin side only
}

// GRPCServer registers the protocol v1 service for p.Impl on s (the plugin's
// side).
func (p *GRPCPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServer(s, &server{impl: p.Impl})
	return nil
}

// GRPCClient returns a pluginv1.PluginClient over c (the host's side).
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pluginv1.NewPluginClient(c), nil
}

var _ goplugin.GRPCPlugin = (*GRPCPlugin)(nil)

// Serve runs p as a plugin subprocess until the host stops it. It does not
// return on its own; call it from main.
func Serve(p sdk.Plugin) {
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         Plugins(p),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return goplugin.DefaultGRPCServer(append(opts, grpc.MaxRecvMsgSize(MaxMessageSize)))
		},
		// go-plugin's own chatter stays out of the host's log: only its
		// warnings and errors reach stderr, which the host logs under the
		// plugin's name. (What the plugin writes to os.Stderr goes there too.)
		Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Level: hclog.Warn, Output: os.Stderr}),
	})
}

// server is the protocol v1 service over an sdk.Plugin.
type server struct {
	pluginv1.UnimplementedPluginServer
	impl sdk.Plugin
}

// Describe returns the plugin's manifest, with ABI filled in when zero.
func (s *server) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.Manifest, error) {
	m := s.impl.Manifest()
	if m.ABI == 0 {
		m.ABI = protocol.ABI
	}
	return ToProtoManifest(m), nil
}

// Configure configures the plugin, turning a panic into a refusal.
func (s *server) Configure(_ context.Context, req *pluginv1.ConfigureRequest) (resp *pluginv1.ConfigureResponse, _ error) {
	defer func() {
		if p := recover(); p != nil {
			resp = &pluginv1.ConfigureResponse{Error: fmt.Sprintf("plugin panicked: %v", p)}
		}
	}()
	if err := s.impl.Configure(FromProtoConfigureRequest(req)); err != nil {
		return &pluginv1.ConfigureResponse{Error: err.Error()}, nil
	}
	return &pluginv1.ConfigureResponse{}, nil
}

// Process runs one round, turning a panic or a nil response into an error
// response.
func (s *server) Process(_ context.Context, req *pluginv1.ProcessRequest) (*pluginv1.ProcessResponse, error) {
	in := FromProtoProcessRequest(req)
	resp := sdk.Guard(func() *protocol.ProcessResponse { return s.impl.Process(in) })
	if resp == nil {
		resp = &protocol.ProcessResponse{Error: "plugin returned no response"}
	}
	return ToProtoProcessResponse(resp), nil
}
