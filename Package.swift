// swift-tools-version:6.1
import PackageDescription

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
    ],
    targets: [
        // libclamav through pkg-config, with a shim header for what Swift cannot import.
        .systemLibrary(
            name: "CClamAV",
            pkgConfig: "libclamav",
            providers: [.apt(["libclamav-dev"])]
        ),
        // libarchive through pkg-config: the second unpacker's C library.
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        // The second unpacker: archives and compressed streams libclamav cannot unpack.
        .target(
            name: "Unpacker",
            dependencies: [
                "CArchive",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "ClamAV",
            dependencies: ["CClamAV", "Unpacker"]
        ),
        // What the scanner and the updater share: configuration reading, the manifest, events.
        .target(
            name: "ServiceSupport",
            dependencies: [
                "AWSClients",
                "ClamAV",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The scanner's domain: configuration, event inputs, verdict actions and results.
        .target(
            name: "ScannerCore",
            dependencies: [
                "AWSClients",
                "ClamAV",
                "LambdaRuntime",
                "ServiceSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The updater's local half: freshclam configuration, runs, outcomes, validation.
        .target(
            name: "UpdaterCore",
            dependencies: [
                "AWSClients",
                "ClamAV",
                "ServiceSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // AWS Signature Version 4 request signing; swift-crypto only.
        .target(
            name: "AWSSigV4",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The project's own small AWS layer: settings, credentials, retries, S3, EventBridge, SQS.
        .target(
            name: "AWSClients",
            dependencies: [
                "AWSSigV4",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The Lambda Runtime API client, the run loop, JSON logs and EMF metrics.
        .target(
            name: "LambdaRuntime",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // A strict in-process Runtime API server for tests (not a product).
        .target(
            name: "LambdaRuntimeTesting",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "scanner",
            dependencies: [
                "AWSClients",
                "ClamAV",
                "LambdaRuntime",
                "ScannerCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "definition-updater",
            dependencies: [
                "AWSClients",
                "ClamAV",
                "LambdaRuntime",
                "ServiceSupport",
                "UpdaterCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // Benchmark (not a test): downloads one object with AWSClients and with `aws s3 cp`.
        .executableTarget(
            name: "s3-download-bench",
            dependencies: [
                "AWSClients",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // Benchmark (not a test): the warm scanner's per-object path; bench/run.sh compares it
        // with `clamscan` per object and `clamdscan` against `clamd`.
        .executableTarget(
            name: "scanner-bench",
            dependencies: [
                "AWSClients",
                "ClamAV",
                "ScannerCore",
                "ServiceSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ClamAVTests",
            dependencies: ["ClamAV", "Unpacker"]
        ),
        .testTarget(
            name: "LambdaRuntimeTests",
            dependencies: [
                "LambdaRuntime",
                "LambdaRuntimeTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ScannerCoreTests",
            dependencies: [
                "AWSClients",
                "ClamAV",
                "ScannerCore",
                "ServiceSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "UpdaterCoreTests",
            dependencies: ["UpdaterCore", "ClamAV"]
        ),
        .testTarget(
            name: "ScannerCLITests",
            dependencies: ["scanner", "definition-updater", "LambdaRuntimeTesting"]
        ),
        .testTarget(
            name: "AWSSigV4Tests",
            dependencies: ["AWSSigV4"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "AWSClientsTests",
            dependencies: [
                "AWSClients",
                "AWSSigV4",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
