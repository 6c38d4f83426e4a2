// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "s3-clamav-scanner",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scanner", targets: ["scanner"]),
        .executable(name: "definition-updater", targets: ["definition-updater"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // libclamav through pkg-config, with a shim header for what Swift cannot import.
        .systemLibrary(
            name: "CClamAV",
            pkgConfig: "libclamav",
            providers: [.apt(["libclamav-dev"])]
        ),
        .target(
            name: "ClamAV",
            dependencies: ["CClamAV"]
        ),
        // The local half of the definition updater: configuration, freshclam, validation.
        .target(
            name: "UpdaterCore",
            dependencies: [
                "ClamAV",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "scanner",
            dependencies: [
                "ClamAV",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "definition-updater",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ClamAVTests",
            dependencies: ["ClamAV"]
        ),
        .testTarget(
            name: "UpdaterCoreTests",
            dependencies: ["UpdaterCore", "ClamAV"]
        ),
        .testTarget(
            name: "ScannerCLITests",
            dependencies: ["scanner"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
