import Foundation
import Lambda
import LambdaTesting
import NIOCore
import NIOHTTP1
import Testing

// The limit catches a hung run loop, so it is generous: 40 invocations that take 0.2 s alone
// took 84 s in the full suite on two cores shared with the other suites.
@Suite("Runtime API protocol: client state machine and server strictness", .timeLimit(.minutes(5)))
struct ProtocolTests {
    @Test func postingAResponseTwiceIsRefusedAndRecorded() async throws {
        let server = try await RuntimeAPIServer.start()
        let client = LambdaRuntimeClient(endpoint: server.endpoint, logger: quietLogger)
        let requestID = server.enqueue(json: #"{"n":1}"#)

        let (metadata, event) = try await client.nextInvocation()
        #expect(metadata.requestID == requestID)
        #expect(String(buffer: event) == #"{"n":1}"#)
        #expect(await client.state == .invoking(requestID: requestID))
        try await client.reportResponse(ByteBuffer(string: "first"), for: requestID)
        #expect(await client.state == .idle)

        // The client refuses a second report by itself, without touching the network...
        await #expect(throws: LambdaRuntimeError.self) {
            try await client.reportResponse(ByteBuffer(string: "second"), for: requestID)
        }
        #expect(server.violations.isEmpty)

        // ...and the server refuses one sent behind the client's back.
        let second = try await rawRequest(
            server, .POST, "/2018-06-01/runtime/invocation/\(requestID)/response", body: "second")
        #expect(second.status == 403)
        #expect(second.body.contains("InvalidStateTransition"))
        let errorAfterResponse = try await rawRequest(
            server, .POST, "/2018-06-01/runtime/invocation/\(requestID)/error",
            headers: [("Content-Type", "application/vnd.aws.lambda.error+json")], body: "{}")
        #expect(errorAfterResponse.status == 403)

        #expect(try await server.result(for: requestID) == .response(Array("first".utf8)))
        #expect(server.violations.map(\.status) == [403, 403])
        try await client.shutdown()
        try await server.shutdown()
    }

    @Test func requestsOutsideTheProtocolAreRefusedWithAWSStatusCodes() async throws {
        let server = try await RuntimeAPIServer.start()
        let queued = server.enqueue(json: "{}")

        #expect(try await rawRequest(server, .GET, "/2018-06-01/runtime/invocation/nope").status == 404)
        #expect(try await rawRequest(server, .GET, "/2019-01-01/runtime/invocation/next").status == 404)
        #expect(try await rawRequest(server, .POST, "/2018-06-01/runtime/invocation/next", body: "").status == 405)
        #expect(try await rawRequest(server, .GET, "/2018-06-01/runtime/invocation/\(queued)/response").status == 405)
        #expect(try await rawRequest(server, .POST, "/2018-06-01/runtime/invocation/unknown-id/response", body: "x").status == 400)
        // Queued but never served: the runtime cannot know this ID yet.
        #expect(try await rawRequest(server, .POST, "/2018-06-01/runtime/invocation/\(queued)/response", body: "x").status == 400)
        #expect(try await rawRequest(server, .POST, "/2018-06-01/runtime/init/error", body: "{}").status == 400)

        #expect(server.violations.map(\.status) == [404, 404, 405, 405, 400, 400, 400])
        #expect(server.results.isEmpty)
        try await server.shutdown()
    }

    @Test func errorWithoutContentTypeIsRefused() async throws {
        let server = try await RuntimeAPIServer.start()
        let client = LambdaRuntimeClient(endpoint: server.endpoint, logger: quietLogger)
        let requestID = server.enqueue(json: "{}")
        _ = try await client.nextInvocation()

        let refused = try await rawRequest(
            server, .POST, "/2018-06-01/runtime/invocation/\(requestID)/error", body: #"{"errorType":"X"}"#)
        #expect(refused.status == 400)
        #expect(server.violations.map(\.reason) == ["missing Content-Type"])

        // The invocation is still open; the client's own report is accepted.
        try await client.reportError(.init(errorType: "Scan.Failed", errorMessage: "boom"), for: requestID)
        let result = try await server.result(for: requestID)
        #expect(result.errorType == "Scan.Failed")
        #expect(result.errorDocument == .init(errorMessage: "boom", errorType: "Scan.Failed", stackTrace: []))
        try await client.shutdown()
        try await server.shutdown()
    }

    @Test func initErrorAfterAnInvocationIsRefused() async throws {
        let server = try await RuntimeAPIServer.start()
        let client = LambdaRuntimeClient(endpoint: server.endpoint, logger: quietLogger)
        let requestID = server.enqueue(json: "{}")
        _ = try await client.nextInvocation()

        // The client knows init errors belong before the first invocation.
        await #expect(throws: LambdaRuntimeError.self) {
            try await client.reportInitError(.init(errorType: "Late", errorMessage: "too late"))
        }
        try await client.reportResponse(ByteBuffer(string: "{}"), for: requestID)

        let late = try await rawRequest(
            server, .POST, "/2018-06-01/runtime/init/error",
            headers: [("Content-Type", "application/vnd.aws.lambda.error+json")], body: "{}")
        #expect(late.status == 403)
        #expect(server.violations.count == 1)
        try await client.shutdown()
        try await server.shutdown()
    }

    @Test func nextWhileAnInvocationIsUnansweredIsRefused() async throws {
        let server = try await RuntimeAPIServer.start()
        let client = LambdaRuntimeClient(endpoint: server.endpoint, logger: quietLogger)
        let requestID = server.enqueue(json: "{}")
        _ = try await client.nextInvocation()

        await #expect(throws: LambdaRuntimeError.self) { try await client.nextInvocation() }
        #expect(try await rawRequest(server, .GET, "/2018-06-01/runtime/invocation/next").status == 403)
        #expect(server.violations.map(\.status) == [403])

        try await client.reportResponse(ByteBuffer(), for: requestID)
        #expect(try await server.result(for: requestID) == .response([]))
        try await client.shutdown()
        try await server.shutdown()
    }

    @Test func responseOverSixMegabytesIsRefusedWith413() async throws {
        let server = try await RuntimeAPIServer.start()
        let client = LambdaRuntimeClient(endpoint: server.endpoint, logger: quietLogger)
        let requestID = server.enqueue(json: "{}")
        _ = try await client.nextInvocation()

        let error = await #expect(throws: LambdaRuntimeError.self) {
            try await client.reportResponse(
                ByteBuffer(repeating: 0x61, count: RuntimeAPI.maximumResponseSize + 1), for: requestID)
        }
        #expect(error?.kind == .responseTooLarge)
        #expect(await client.state == .idle)
        #expect(try await server.result(for: requestID).errorType == "Function.ResponseSizeTooLarge")
        #expect(server.violations.map(\.status) == [413])
        try await client.shutdown()
        try await server.shutdown()
    }

    @Test func responseOfExactlySixMegabytesIsAccepted() async throws {
        let server = try await RuntimeAPIServer.start()
        let client = LambdaRuntimeClient(endpoint: server.endpoint, logger: quietLogger)
        let requestID = server.enqueue(json: "{}")
        _ = try await client.nextInvocation()
        try await client.reportResponse(ByteBuffer(repeating: 0x61, count: RuntimeAPI.maximumResponseSize), for: requestID)
        guard case .response(let body) = try await server.result(for: requestID) else {
            Issue.record("expected a response")
            return
        }
        #expect(body.count == RuntimeAPI.maximumResponseSize)
        #expect(server.violations.isEmpty)
        try await client.shutdown()
        try await server.shutdown()
    }

    @Test func optionalHeadersThatAreAbsentAreNil() async throws {
        let server = try await RuntimeAPIServer.start()
        let client = LambdaRuntimeClient(endpoint: server.endpoint, logger: quietLogger)
        let requestID = server.enqueue(.init(payload: Array("{}".utf8), traceID: nil))
        let (metadata, _) = try await client.nextInvocation()
        #expect(metadata.requestID == requestID)
        #expect(metadata.traceID == nil)
        #expect(metadata.clientContext == nil)
        #expect(metadata.cognitoIdentity == nil)
        try await client.reportResponse(ByteBuffer(), for: requestID)
        _ = try await server.result(for: requestID)
        try await client.shutdown()
        try await server.shutdown()
    }

    @Test func missingRequiredNextHeadersAreAProtocolError() throws {
        var headers = HTTPHeaders()
        headers.add(name: "Lambda-Runtime-Aws-Request-Id", value: "id")
        headers.add(name: "Lambda-Runtime-Deadline-Ms", value: "1542409706888")
        #expect(throws: LambdaRuntimeError.self) { try InvocationMetadata(headers: headers) }
        headers.add(name: "lambda-runtime-invoked-function-arn", value: "arn:aws:lambda:us-east-1:1:function:f")
        let metadata = try InvocationMetadata(headers: headers)
        #expect(
            metadata == .init(requestID: "id", deadlineMilliseconds: 1_542_409_706_888, invokedFunctionARN: "arn:aws:lambda:us-east-1:1:function:f"))
    }

    @Test func requestIDsAreOnePathSegment() {
        #expect(
            RuntimeAPI.responsePath("8476a536-e9f4-11e8-9739-2dfe598c3fcd")
                == "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response")
        #expect(RuntimeAPI.errorPath("a/b c") == "/2018-06-01/runtime/invocation/a%2Fb%20c/error")
    }
}
