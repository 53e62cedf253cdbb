// swift-tools-version:6.0
import PackageDescription

// Trestle's fuzz targets, kept out of the main package so that its build never compiles them.
// Build and run them with Fuzz/run (libFuzzer + AddressSanitizer); see Fuzz/README.md.
//
// The parsers under test are compiled from the main package's own sources: Sources/Channel,
// Sources/RouteConfig, Sources/HTTP1, Sources/Transcoding, Sources/Compression and Sources/CZlib here
// are symlinks to the same folders of ../../Sources.
// (Depending on the main package by path is not enough: it has no library product, and a package
// can only use another package's products.) Each target's properties file is a symlink to the
// replay test that runs the same checks under `swift test`.
let package = Package(
    name: "TrestleFuzz",
    dependencies: [
        // The main package's version: Package.resolved there pins the same.
        .package(url: "https://github.com/jpsim/Yams.git", exact: "5.0.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
    ],
    targets: [
        .target(name: "Channel"),
        .target(name: "Transcoding", dependencies: ["Channel", "Compression", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "RouteConfig", dependencies: ["Channel", "Transcoding", .product(name: "Yams", package: "Yams")]),
        .target(name: "HTTP1"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib"),
        .target(name: "Compression", dependencies: ["CZlib"]),

        // libFuzzer's driver entry point, and the @main glue every target shares.
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),

        .executableTarget(
            name: "FuzzConfig", dependencies: ["RouteConfig", "Channel", "FuzzSupport"], swiftSettings: fuzzing),
        .executableTarget(
            name: "FuzzConfigValues", dependencies: ["RouteConfig", "Channel", "FuzzSupport"], swiftSettings: fuzzing),
        .executableTarget(name: "FuzzChannel", dependencies: ["Channel", "FuzzSupport"], swiftSettings: fuzzing),
        .executableTarget(name: "FuzzHTTP1", dependencies: ["HTTP1", "FuzzSupport"], swiftSettings: fuzzing),
        .executableTarget(name: "FuzzHTTP1Response", dependencies: ["HTTP1", "FuzzSupport"], swiftSettings: fuzzing),
        .executableTarget(name: "FuzzTranscoding", dependencies: ["Transcoding", "Channel", "FuzzSupport"], swiftSettings: fuzzing),
        .executableTarget(name: "FuzzGzip", dependencies: ["Compression", "FuzzSupport"], swiftSettings: fuzzing),
    ]
)

/// The properties files are the replay tests' files: FUZZING leaves their test suites out.
var fuzzing: [SwiftSetting] { [.define("FUZZING")] }
