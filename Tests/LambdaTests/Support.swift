import AsyncHTTPClient
import Foundation
import Lambda
import LambdaTesting
import Logging
import NIOCore
import NIOHTTP1
import Observability
import Synchronization
import TestSupport

/// Records what handlers saw.
actor Recorder<Value: Sendable> {
    private(set) var values: [Value] = []
    func append(_ value: Value) { values.append(value) }
}

/// A logger that writes nothing, for tests that do not look at logs.
let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// Runs the Lambda run loop against `server` in a child task.
func startRuntime(
    _ server: RuntimeAPIServer,
    logger: Logger = quietLogger,
    initialize: @escaping @Sendable (Logger) async throws -> LambdaHandler
) -> Task<Ended, Never> {
    let environment = [RuntimeAPI.endpointVariable: server.endpoint]
    return Task { await runToEnd(environment: environment, logger: logger, initialize: initialize) }
}

/// How a runtime's `run()` ended.
enum Ended: Equatable {
    /// It returned (graceful shutdown or cancellation).
    case cleanly
    /// It threw: start-up or the Runtime API failed (the process would exit non-zero).
    case withFailure
}

/// Builds a runtime from `environment` and runs it to its end.
func runToEnd(
    environment: [String: String], logger: Logger = quietLogger,
    initialize: @escaping @Sendable (Logger) async throws -> LambdaHandler
) async -> Ended {
    do {
        try await LambdaRuntime(environment: environment, logger: logger, initialize: initialize).run()
        return .cleanly
    } catch {
        return .withFailure
    }
}

/// Sends one raw request to the test server, bypassing the client's state machine, to
/// provoke protocol violations.
func rawRequest(
    _ server: RuntimeAPIServer,
    _ method: HTTPMethod,
    _ path: String,
    headers: [(String, String)] = [],
    body: String? = nil
) async throws -> (status: UInt, body: String) {
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    do {
        var request = HTTPClientRequest(url: "http://\(server.endpoint)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        try await client.shutdown()
        return (response.status.code, String(buffer: bytes))
    } catch {
        try? await client.shutdown()
        throw error
    }
}

extension RuntimeAPIServer.InvocationResult {
    /// The response body as text, or nil for an error.
    var responseText: String? {
        guard case .response(let bytes) = self else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The error type header, or nil for a response.
    var errorType: String? {
        guard case .error(let type, _) = self else { return nil }
        return type
    }
}
