// swift-tools-version:6.1
import PackageDescription

// The module graph points one way (docs/architecture.md; Tests/lint/check-module-graph.py fails
// the lint suite on a dependency against it):
//   executables → workflows (ScannerCore, UpdaterCore) → shared domain (Definitions, BusEvents)
//   → clients and engine (AWSClients, ClamAV, Lambda) → foundations (Environment,
//   Observability, AWSSigV4, Unpacker) → C libraries (CClamAV, CArchive).

let log = Target.Dependency.product(name: "Logging", package: "swift-log")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let asyncHTTPClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let serviceLifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let nio = ["NIOCore", "NIOPosix", "NIOHTTP1", "NIOFoundationCompat"].map { Target.Dependency.product(name: $0, package: "swift-nio") }

let package = Package(
    name: "s3-clamav-scanner",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scanner", targets: ["scanner"]),
        .executable(name: "definition-updater", targets: ["definition-updater"]),
        .library(name: "AWSSigV4", targets: ["AWSSigV4"]),
        .library(name: "AWSClients", targets: ["AWSClients"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C libraries through pkg-config, each with a shim header for what Swift cannot import.
        .systemLibrary(name: "CClamAV", pkgConfig: "libclamav", providers: [.apt(["libclamav-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),

        // Foundations.
        // Reading and validating environment variables, with one error type.
        .target(name: "Environment"),
        // JSON log lines on stderr and CloudWatch EMF metric lines on stdout.
        .target(name: "Observability", dependencies: ["Environment", log]),
        // AWS Signature Version 4 request signing; swift-crypto only.
        .target(name: "AWSSigV4", dependencies: [crypto]),
        // The second unpacker: archives and compressed streams libclamav cannot unpack.
        .target(name: "Unpacker", dependencies: ["CArchive", crypto]),

        // Clients and engine.
        // The project's own small AWS layer: settings, credentials, retries, S3, EventBridge, SQS.
        .target(name: "AWSClients", dependencies: ["AWSSigV4", "Environment", asyncHTTPClient, log, crypto] + nio),
        // libclamav: engine, limits, the per-object scan session that accounts for containers.
        .target(name: "ClamAV", dependencies: ["CClamAV", "Unpacker"]),
        // The Lambda Runtime API client and the run loop, as a service.
        .target(name: "Lambda", dependencies: [asyncHTTPClient, log, serviceLifecycle] + nio),

        // Shared domain of the two services.
        // The definitions bucket: its location, manifest.json, publication and restore.
        .target(name: "Definitions", dependencies: ["AWSClients", "ClamAV", "Environment", crypto, log]),
        // The events both services publish to the custom bus.
        .target(name: "BusEvents", dependencies: ["AWSClients", "Environment", log]),

        // Workflows.
        // The scanner: configuration, event inputs, the per-object workflow, the SQS worker.
        .target(
            name: "ScannerCore",
            dependencies: ["AWSClients", "BusEvents", "ClamAV", "Environment", "Definitions", "Observability", crypto, log, serviceLifecycle]
        ),
        // The updater: freshclam configuration, runs, outcomes, validation, publication.
        .target(
            name: "UpdaterCore",
            dependencies: ["AWSClients", "BusEvents", "ClamAV", "Environment", "Definitions", asyncHTTPClient, log]
        ),

        // Executables: `main` wires configuration to services.
        .executableTarget(
            name: "scanner",
            dependencies: ["AWSClients", "ClamAV", "Environment", "Lambda", "Observability", "ScannerCore", argumentParser, log, serviceLifecycle] + nio
        ),
        .executableTarget(
            name: "definition-updater",
            dependencies: ["AWSClients", "ClamAV", "Environment", "Definitions", "Lambda", "Observability", "UpdaterCore", argumentParser, log, serviceLifecycle] + nio
        ),

        // Benchmarks (not tests; docs/benchmarks.md).
        .executableTarget(
            name: "scanner-bench",
            dependencies: [
                "AWSClients", "ClamAV", "Definitions", "LambdaTesting", "ScannerCore", "UpdaterCore", argumentParser, asyncHTTPClient, log,
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ] + nio,
            path: "bench/scanner-bench"
        ),
        .executableTarget(
            name: "s3-download-bench", dependencies: ["AWSClients", argumentParser, asyncHTTPClient],
            path: "bench/s3-download-bench"
        ),

        // Test support: a strict in-process Runtime API server, and what many test targets use.
        .target(name: "LambdaTesting", dependencies: nio + [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        .executableTarget(name: "runtime-api-server", dependencies: ["LambdaTesting", argumentParser] + nio, path: "Tests/RuntimeAPIServer"),
        .target(
            name: "TestSupport",
            dependencies: ["AWSClients", "Observability", crypto, log, .product(name: "NIOConcurrencyHelpers", package: "swift-nio")] + nio,
            path: "Tests/TestSupport"
        ),
        .executableTarget(name: "test-mirror", dependencies: ["TestSupport", argumentParser], path: "Tests/TestMirror"),

        .testTarget(
            name: "AWSSigV4Tests", dependencies: ["AWSSigV4", "TestSupport"], exclude: ["botocore-sigv4.py"], resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "AWSClientsTests", dependencies: ["AWSClients", "AWSSigV4", "Environment", "TestSupport", asyncHTTPClient, crypto] + nio),
        .testTarget(name: "ClamAVTests", dependencies: ["ClamAV", "Unpacker", "TestSupport"]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability", "TestSupport", log]),
        .testTarget(name: "LambdaTests", dependencies: ["Lambda", "LambdaTesting", "Observability", "TestSupport", asyncHTTPClient, log, serviceLifecycle] + nio),
        .testTarget(
            name: "ScannerCoreTests",
            dependencies: ["AWSClients", "BusEvents", "ClamAV", "Environment", "Definitions", "ScannerCore", "TestSupport", asyncHTTPClient, crypto, log],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "UpdaterCoreTests", dependencies: ["UpdaterCore", "ClamAV", "Environment", "Definitions", "BusEvents", "TestSupport", log]),
        .testTarget(name: "ScannerCLITests", dependencies: ["scanner", "definition-updater", "LambdaTesting", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
