import AWSClients
import AWSSigV4
import AsyncHTTPClient
import Foundation
import Logging
import NIOPosix
import Testing

/// The emulator that scripts/test.sh starts with signature checking on.
struct MotoAuthEnvironment {
    var endpoint: String
    var accessKeyID: String
    var secretAccessKey: String

    /// Reads the endpoint and credentials from the environment; a missing variable fails the
    /// test with a message (integration tests never skip silently).
    static func load(sourceLocation: SourceLocation = #_sourceLocation) throws -> MotoAuthEnvironment {
        let environment = ProcessInfo.processInfo.environment
        func required(_ name: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else {
                Issue.record(
                    "\(name) is not set: run the integration tests through scripts/test.sh, which starts moto with signature checking and exports it",
                    sourceLocation: sourceLocation)
                throw MissingEnvironment(name: name)
            }
            return value
        }
        return MotoAuthEnvironment(
            endpoint: try required("MOTO_AUTH_ENDPOINT"),
            accessKeyID: try required("MOTO_AUTH_ACCESS_KEY_ID"),
            secretAccessKey: try required("MOTO_AUTH_SECRET_ACCESS_KEY"))
    }

    /// The moto without signature checks (MOTO_ENDPOINT), with any credentials.
    static func loadUnauthenticated(sourceLocation: SourceLocation = #_sourceLocation) throws -> MotoAuthEnvironment {
        guard let endpoint = ProcessInfo.processInfo.environment["MOTO_ENDPOINT"], !endpoint.isEmpty else {
            Issue.record(
                "MOTO_ENDPOINT is not set: run the integration tests through scripts/test.sh, which starts moto and exports it",
                sourceLocation: sourceLocation)
            throw MissingEnvironment(name: "MOTO_ENDPOINT")
        }
        return MotoAuthEnvironment(endpoint: endpoint, accessKeyID: "testing", secretAccessKey: "testing")
    }

    struct MissingEnvironment: Error { var name: String }

    func settings() throws -> AWSSettings {
        try AWSSettings(environment: [
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": accessKeyID,
            "AWS_SECRET_ACCESS_KEY": secretAccessKey,
            "AWS_ENDPOINT_URL": endpoint,
        ])
    }
}

/// One HTTP client for a test, shut down at the end.
func withHTTPClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
    let configuration = HTTPClient.Configuration.forAWSClients()
    let client = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// A temporary folder, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("awsclients-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Deterministic pseudo-random bytes (xorshift), fast to make and different in every block.
func testBytes(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> Data {
    var data = Data(count: count)
    var state = seed
    data.withUnsafeMutableBytes { raw in
        let words = count / 8
        let pointer = raw.baseAddress!
        for index in 0..<words {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            pointer.storeBytes(of: state, toByteOffset: index * 8, as: UInt64.self)
        }
        for index in (words * 8)..<count { raw[index] = UInt8(truncatingIfNeeded: index) }
    }
    return data
}
