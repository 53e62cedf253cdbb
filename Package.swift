// swift-tools-version:6.0
import PackageDescription

// The relay's classes are loop-confined: dynamic exclusivity checks cost ~3% of a proxied call
// and guard nothing the single-threaded design does not already.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "Trestle",
    products: [
        .executable(name: "trestle", targets: ["trestle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", exact: "5.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
    ],
    targets: [
        // System libraries. Only UVLoop imports CLibUV; only HTTP2 imports CNghttp2; only TLS imports COpenSSL.
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // OpenSSL 3: only TLS imports it.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // zlib: only Compression imports it.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Transport
        .target(name: "UVLoop", dependencies: ["CLibUV", "CFreeList"], swiftSettings: hotPath),
        // Per-thread free lists for nghttp2's own allocations and ByteQueue's (plain C, no dependency).
        .target(name: "CFreeList"),
        // HTTP2 speaks Channel's vocabulary (HTTP2ErrorCode) and writes into UVLoop's OutputBuffer.
        .target(name: "HTTP2", dependencies: ["Channel", "UVLoop", "CNghttp2", "CFreeList"], swiftSettings: hotPath),
        // Strict, incremental HTTP/1.1 request and response parsers and response writer (pure: no sockets).
        .target(name: "HTTP1", swiftSettings: hotPath),
        // TLS over memory buffers (pure: no sockets): contexts, connections, reload, file checks.
        .target(name: "TLS", dependencies: ["COpenSSL"], swiftSettings: hotPath),
        // Where the transport modules meet: TLS as a WritePump's record layer, and the one HTTP/2
        // client connection life (connect, TLS, SETTINGS, ready, draining) every HTTP/2 client uses.
        .target(name: "Transport", dependencies: ["Channel", "UVLoop", "TLS", "HTTP2"], swiftSettings: hotPath),

        // Channel (pure) and upstream pools
        .target(name: "Channel", swiftSettings: hotPath),
        .target(name: "Upstream", dependencies: ["Channel", "UVLoop", "HTTP2", "TLS", "Transport",
                                                 .product(name: "Logging", package: "swift-log")], swiftSettings: hotPath),

        // Translation: descriptor registry (from FileDescriptorSets), proto3 JSON codec, HTTP rules.
        .target(name: "Transcoding", dependencies: [
            "Channel", "Compression", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], swiftSettings: hotPath),

        // gRPC's gzip message encoding (for the frontends that look inside messages).
        .target(name: "Compression", dependencies: ["CZlib"]),

        // Configuration
        .target(name: "RouteConfig", dependencies: ["Channel", "Transcoding", .product(name: "Yams", package: "Yams")]),

        // The load generator (`trestle load`): gRPC over HTTP/2 and JSON over HTTP/1.1, closed and open loop.
        .target(name: "LoadGen", dependencies: ["UVLoop", "HTTP1", "HTTP2", "Channel", "Transcoding", "TLS", "Transport"], swiftSettings: hotPath),

        // The demo gRPC service (`trestle demo`, `trestle demo-upstream`): trestle.demo.v1.Echo on our own HTTP/2.
        .target(name: "DemoService", dependencies: ["Channel", "UVLoop", "HTTP2", "Transcoding", "TLS", "Transport"], swiftSettings: hotPath),

        // The gateway and the executable
        .target(name: "Gateway", dependencies: ["Channel", "UVLoop", "HTTP1", "HTTP2", "TLS", "Transport", "Upstream", "RouteConfig", "Transcoding", "Compression",
                                                .product(name: "Logging", package: "swift-log")], swiftSettings: hotPath),
        .executableTarget(name: "trestle", dependencies: [
            "Gateway", "DemoService", "LoadGen", "Channel", "UVLoop", "RouteConfig", "Transcoding", "TLS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "ChannelTests", dependencies: ["Channel"]),
        .testTarget(name: "RouteConfigTests", dependencies: ["RouteConfig", "Channel"]),
        .testTarget(name: "HTTP2Tests", dependencies: ["HTTP2", "Channel", "UVLoop"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1"]),
        .testTarget(name: "UpstreamTests", dependencies: ["Upstream"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "TLS", "HTTP2", "UVLoop"]),
        .testTarget(name: "TranscodingTests", dependencies: [
            "Transcoding", "Channel", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], resources: [.copy("Fixtures")]),  // codec_test.proto/.pb (read by path; declared so SwiftPM does not warn)
        .testTarget(name: "UVLoopTests", dependencies: ["UVLoop", "CLibUV"]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression"]),
    ]
)
