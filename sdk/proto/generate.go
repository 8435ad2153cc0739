// Package proto holds the plugin protocol's definition,
// valuescope/plugin/v1/plugin.proto, and the Go code generated from it.
//
// Regenerate after changing the .proto (needs protoc from Debian's
// protobuf-compiler, and protoc-gen-go and protoc-gen-go-grpc installed with
// go install at the versions named in the generated files' headers):
//
//	cd sdk && go generate ./proto
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative valuescope/plugin/v1/plugin.proto
