// swift-tools-version:6.2
import PackageDescription

// Swift 6 settings every target shares (STYLE.md, practice 15).
let swiftSettings: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("MemberImportVisibility"),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
  name: "augmenter",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "augmenter", targets: ["augmenter"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    // /metrics: the Prometheus registry and exposition, on swift-metrics' CoreMetrics.
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    // Tests only: an independent HTTP/2 implementation as the client (already in the graph via AHC).
    .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
    // Tests only: an independent TLS implementation as the client (already in the graph via AHC).
    .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
  ],
  targets: [
    // libnghttp2 1.52 (Debian libnghttp2-dev) behind a shim header; C types stay in HTTP2.
    .target(
      name: "CNghttp2",
      linkerSettings: [.linkedLibrary("nghttp2")]
    ),
    .target(
      name: "HTTP2",
      dependencies: [
        "CNghttp2",
        .product(name: "NIOCore", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    // System OpenSSL 3.0 (Debian libssl-dev) behind a shim for its macro APIs; C types stay in TLS.
    .target(
      name: "COpenSSL",
      linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
    ),
    .target(
      name: "TLS",
      dependencies: [
        "COpenSSL",
        .product(name: "NIOCore", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "EnvoyAPI",
      dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
      exclude: ["proto"],
      swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
    ),
    .target(
      name: "AugmenterCore",
      dependencies: [
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: swiftSettings
    ),
    // gRPC on our HTTP/2 transport: framing, status, routing, server streaming, protobuf messages.
    .target(
      name: "GRPC",
      dependencies: [
        "HTTP2",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    // The HTTP/1.1 server side on NIOHTTP1: the handlers that bound and time a connection.
    .target(
      name: "HTTP1",
      dependencies: [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    // The ext_authz fronts: the gRPC Check service, HTTP mode (HTTP/2 and HTTP/1.1), the scanner.
    .target(
      name: "ExtAuthz",
      dependencies: [
        "AugmenterCore", "AugmenterMetrics", "EnvoyAPI", "GRPC", "HTTP1", "HTTP2",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    // Every metric declared once, its handles made per bounded label set at startup, the exposition.
    .target(
      name: "AugmenterMetrics",
      dependencies: [
        "AugmenterCore",
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
      ],
      swiftSettings: swiftSettings
    ),
    // The ext_proc front: Process streams answered with the same decision as ext_authz.
    .target(
      name: "ExtProc",
      dependencies: [
        "AugmenterCore", "AugmenterMetrics", "EnvoyAPI", "GRPC",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    // The admin port: probes, /status, /metrics, gRPC health.
    .target(
      name: "Admin",
      dependencies: [
        "AugmenterCore", "AugmenterMetrics", "EnvoyAPI", "GRPC", "HTTP1", "HTTP2",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    // Provider kinds that fetch: the JSON-map endpoint and OAuth 2.0 token endpoints over
    // AsyncHTTPClient, and files.
    .target(
      name: "Providers",
      dependencies: [
        "AugmenterCore",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        // The client side of https providers (AsyncHTTPClient's TLS; already in its graph).
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        // Signing private_key_jwt client assertions with the OpenSSL the TLS module links.
        "COpenSSL",
      ],
      swiftSettings: swiftSettings
    ),
    // Listeners, protocol detection, connection limits, lifecycle and wiring.
    .target(
      name: "AugmenterServer",
      dependencies: [
        "Admin",
        "AugmenterCore",
        "AugmenterMetrics",
        "ExtAuthz",
        "ExtProc",
        "GRPC",
        "HTTP1",
        "HTTP2",
        "Providers",
        "TLS",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        // SIGHUP asks for a configuration reload (the product ServiceGroup's signals come from).
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "augmenter",
      dependencies: [
        "AugmenterServer",
        "AugmenterCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    // Test-only: what several test targets share (in-memory HTTP/2 pairs, the manual clock,
    // configurations, polling, subprocesses, free ports, the repository root).
    .target(
      name: "TestSupport",
      dependencies: [
        "AugmenterCore", "GRPC", "HTTP1", "HTTP2",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
      ],
      path: "Tests/TestSupport",
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "HTTP2Tests",
      dependencies: [
        "HTTP2", "CNghttp2", "GRPC", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "GRPCTests",
      dependencies: [
        "GRPC", "HTTP2", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "HTTP1Tests",
      dependencies: [
        "HTTP1", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ExtProcTests",
      dependencies: [
        "ExtProc", "AugmenterCore", "AugmenterMetrics", "EnvoyAPI", "GRPC", "HTTP2", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ExtAuthzTests",
      dependencies: [
        "ExtAuthz", "AugmenterCore", "EnvoyAPI", "GRPC", "HTTP1", "HTTP2", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "AdminTests",
      dependencies: [
        "Admin", "AugmenterCore", "AugmenterMetrics", "EnvoyAPI", "GRPC", "HTTP1", "HTTP2", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "ProvidersTests",
      dependencies: ["Providers", "AugmenterCore"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "augmenterTests",
      dependencies: [
        "augmenter", "AugmenterCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "EnvoyAPITests",
      dependencies: ["EnvoyAPI", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "AugmenterMetricsTests",
      dependencies: ["AugmenterMetrics", "AugmenterCore", "TestSupport"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "AugmenterCoreTests",
      dependencies: ["AugmenterCore", "TestSupport"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "AugmenterServerTests",
      dependencies: [
        "AugmenterServer", "Admin", "AugmenterCore", "AugmenterMetrics", "ExtAuthz", "GRPC", "HTTP1", "HTTP2", "EnvoyAPI",
        "TestCertificates", "TestSupport",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
    // Test-only: generates a throwaway PKI with the openssl CLI (TLS and end-to-end tests).
    .target(
      name: "TestCertificates",
      dependencies: ["TestSupport"],
      path: "Tests/TestCertificates",
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "TLSTests",
      dependencies: [
        "TLS", "TestCertificates", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOTLS", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ],
      swiftSettings: swiftSettings
    ),
    // Test-only: interposes malloc & co. in the test executable to count allocations per check.
    .target(
      name: "CAllocationCounter",
      path: "Tests/CAllocationCounter"
    ),
    .testTarget(
      name: "AllocationTests",
      dependencies: [
        "CAllocationCounter", "AugmenterCore", "ExtAuthz", "ExtProc", "GRPC", "HTTP2", "EnvoyAPI", "TestSupport",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "DeploymentTests",
      dependencies: ["AugmenterCore", "TestSupport", .product(name: "Yams", package: "Yams")],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "EndToEndTests",
      dependencies: [
        "EnvoyAPI", "AugmenterCore", "TestCertificates", "TestSupport",
        // ConnectionTracker only (the in-process test servers close what they accepted).
        "AugmenterServer",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOTLS", package: "swift-nio"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: swiftSettings
    ),
  ]
)

// AUGMENTER_ONLY=<target>[,<target>...] keeps only the named targets and the package's own targets
// they depend on: a sanitizer build of the concurrent core (scripts/test's TSan step,
// `AUGMENTER_ONLY=AugmenterCoreTests swift test --sanitize=thread`) then compiles AugmenterCore,
// Yams and swift-log, not the whole graph.
if let only = Context.environment["AUGMENTER_ONLY"], !only.isEmpty {
  var keep = Set(only.split(separator: ",").map { String($0) })
  var grew = true
  while grew {
    grew = false
    for target in package.targets where keep.contains(target.name) {
      for dependency in target.dependencies {
        var name: String?
        switch dependency {
        case .targetItem(let target, _): name = target
        case .byNameItem(let target, _): name = target
        default: break
        }
        if let name, package.targets.contains(where: { $0.name == name }), keep.insert(name).inserted { grew = true }
      }
    }
  }
  package.products = []
  package.targets.removeAll { !keep.contains($0.name) }
}

// libFuzzer targets (Fuzz/<Name>/, seeds in Fuzz/Corpus/<Name>/), declared only when AUGMENTER_FUZZ=1
// so that `swift build`, `swift test` and the shipped `augmenter` product never see them: they are
// built by scripts/fuzz alone, with `-sanitize=fuzzer,address -enable-testing` in .build-fuzz.
//
// The fuzzing package keeps only the library targets the fuzz targets reach: no tests, no
// `augmenter`, and none of what depends on AsyncHTTPClient (Providers, AugmenterServer), so that
// building "everything" there never compiles AsyncHTTPClient's BoringSSL with ASan.
if Context.environment["AUGMENTER_FUZZ"] == "1" {
  let notFuzzed: Set<String> = ["Providers", "AugmenterServer", "augmenter", "TestSupport", "TestCertificates", "CAllocationCounter"]
  package.products = []
  package.targets.removeAll { $0.type == .test || notFuzzed.contains($0.name) }
  func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
      name: "Fuzz\(name)",
      dependencies: ["FuzzSupport"] + dependencies,
      path: "Fuzz/\(name)",
      swiftSettings: swiftSettings
    )
  }
  let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
  let nioEmbedded = Target.Dependency.product(name: "NIOEmbedded", package: "swift-nio")
  package.targets += [
    // What every fuzz target shares: reading structure out of the input, failing with the input.
    // SwiftPM gives an executable target its own `main`, so each target's `@main` calls
    // libFuzzer's driver (declared by CFuzzDriver) rather than relying on libFuzzer's `main`.
    .target(name: "CFuzzDriver", path: "Fuzz/CFuzzDriver"),
    .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"], path: "Fuzz/Support", swiftSettings: swiftSettings),
    fuzzTarget(
      "CheckRequestScanner",
      [
        "ExtAuthz", "AugmenterCore", "EnvoyAPI", "GRPC", nioCore,
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ]
    ),
    fuzzTarget("ProviderAnswer", ["AugmenterCore"]),
    fuzzTarget("Config", ["AugmenterCore"]),
    fuzzTarget("Template", ["AugmenterCore"]),
    fuzzTarget("GRPCFraming", ["GRPC", nioCore]),
    fuzzTarget("HTTP2Session", ["HTTP2", nioCore, nioEmbedded]),
    fuzzTarget(
      "HTTP1Pipeline",
      [
        "ExtAuthz", "HTTP1", "AugmenterCore", nioCore, nioEmbedded,
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ]
    ),
    fuzzTarget("TLSHandler", ["TLS", nioCore, nioEmbedded]),
  ]
}
