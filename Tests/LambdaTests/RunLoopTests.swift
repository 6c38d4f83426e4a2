import Foundation
import Lambda
import LambdaTesting
import Logging
import NIOCore
import Observability
import TestSupport
import Testing

/// A handler failure with a recognisable type name and message.
struct ScanRefused: Error, CustomStringConvertible {
    var description: String { "refused \"a/b c.zip\"\nsecond line" }
}

struct StartupBroken: Error, CustomStringConvertible {
    var description: String { "DEFINITIONS_BUCKET is not set" }
}

// The limit catches a hung run loop, so it is generous: 40 invocations that take 0.2 s alone
// took 84 s in the full suite on two cores shared with the other suites.
@Suite("Run loop against the test Runtime API", .timeLimit(.minutes(5)))
struct RunLoopTests {
    @Test func invocationRoundTripParsesEveryHeaderIntoTheContext() async throws {
        let server = try await RuntimeAPIServer.start()
        let contexts = Recorder<LambdaContext>()
        let logger = Logger(label: "runtime") { label in JSONLogHandler(label: label, sink: LineCollector().sink) }
        let runtime = startRuntime(server, logger: logger) { _ in
            { event, context in
                await contexts.append(context)
                return ByteBuffer(string: "echo:" + String(buffer: event))
            }
        }

        let invocation = RuntimeAPIServer.Invocation(
            payload: Array(#"{"Records":[]}"#.utf8),
            requestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            deadline: Date(timeIntervalSince1970: 1_542_409_706.888),
            invokedFunctionARN: "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime",
            traceID: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            clientContext: #"{"client":{"app_title":"t"}}"#,
            cognitoIdentity: #"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#)
        let requestID = server.enqueue(invocation)

        let result = try await server.result(for: requestID)
        #expect(result == .response(Array(#"echo:{"Records":[]}"#.utf8)))

        let seen = await contexts.values
        try #require(seen.count == 1)
        let context = seen[0]
        #expect(context.requestID == "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
        #expect(context.metadata.deadlineMilliseconds == 1_542_409_706_888)
        #expect(context.invokedFunctionARN == "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime")
        #expect(context.traceID == "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        #expect(context.clientContext == #"{"client":{"app_title":"t"}}"#)
        #expect(context.cognitoIdentity == #"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#)
        #expect(context.logger[metadataKey: "requestID"] == "8476a536-e9f4-11e8-9739-2dfe598c3fcd")

        try await server.waitForIdleRuntime()
        runtime.cancel()
        #expect(await runtime.value == Ended.cleanly)
        #expect(server.violations.isEmpty, "\(server.violations)")
        try await server.shutdown()
    }

    @Test func manyQueuedInvocationsAreServedInOrderOneAtATime() async throws {
        let server = try await RuntimeAPIServer.start()
        let seen = Recorder<String>()
        let runtime = startRuntime(server) { _ in
            { event, _ in
                await seen.append(String(buffer: event))
                return event
            }
        }
        let payloads = (0..<40).map { "{\"n\":\($0)}" }
        let requestIDs = payloads.map { server.enqueue(json: $0) }
        for (requestID, payload) in zip(requestIDs, payloads) {
            #expect(try await server.result(for: requestID).responseText == payload)
        }
        #expect(await seen.values == payloads)
        runtime.cancel()
        #expect(await runtime.value == Ended.cleanly)
        #expect(server.violations.isEmpty, "\(server.violations)")
        try await server.shutdown()
    }

    @Test func deadlineIsParsedToTheMillisecond() async throws {
        let server = try await RuntimeAPIServer.start()
        let contexts = Recorder<LambdaContext>()
        let runtime = startRuntime(server) { _ in
            { _, context in
                await contexts.append(context)
                return ByteBuffer()
            }
        }
        let deadline = Date(timeIntervalSince1970: 1_900_000_000.123)
        let requestID = server.enqueue(.init(payload: [], deadline: deadline))
        _ = try await server.result(for: requestID)

        let context = try #require(await contexts.values.first)
        #expect(context.metadata.deadlineMilliseconds == 1_900_000_000_123)
        #expect(Int64((context.deadline.timeIntervalSince1970 * 1000).rounded()) == 1_900_000_000_123)
        #expect(context.remainingTime(now: Date(timeIntervalSince1970: 1_900_000_000)) == .milliseconds(123))

        runtime.cancel()
        #expect(await runtime.value == Ended.cleanly)
        #expect(server.violations.isEmpty, "\(server.violations)")
        try await server.shutdown()
    }

    @Test func handlerErrorIsReportedAndTheNextInvocationIsStillServed() async throws {
        let server = try await RuntimeAPIServer.start()
        let runtime = startRuntime(server) { _ in
            { event, _ in
                if String(buffer: event) == "fail" { throw ScanRefused() }
                return ByteBuffer(string: "ok")
            }
        }
        let failing = server.enqueue(json: "fail")
        let succeeding = server.enqueue(json: "fine")

        let failure = try await server.result(for: failing)
        #expect(failure.errorType == "ScanRefused")
        let document = try #require(failure.errorDocument)
        #expect(document.errorType == "ScanRefused")
        #expect(document.errorMessage == "refused \"a/b c.zip\"\nsecond line")
        #expect(document.stackTrace == [])

        #expect(try await server.result(for: succeeding).responseText == "ok")

        runtime.cancel()
        #expect(await runtime.value == Ended.cleanly)
        #expect(server.violations.isEmpty, "\(server.violations)")
        try await server.shutdown()
    }

    @Test func initFailureIsPostedToInitErrorAndEndsTheProcessWithFailure() async throws {
        let server = try await RuntimeAPIServer.start()
        let runtime = startRuntime(server) { _ in throw StartupBroken() }

        #expect(await runtime.value == Ended.withFailure)
        let initError = try await server.initError()
        #expect(initError.type == "StartupBroken")
        #expect(initError.errorDocument?.errorType == "StartupBroken")
        #expect(initError.errorDocument?.errorMessage == "DEFINITIONS_BUCKET is not set")
        #expect(server.results.isEmpty)
        #expect(server.violations.isEmpty, "\(server.violations)")
        try await server.shutdown()
    }

    @Test func whatStartUpOpenedIsClosedOnceWhenTheRuntimeEnds() async throws {
        let server = try await RuntimeAPIServer.start()
        let closed = Recorder<String>()
        let environment = [RuntimeAPI.endpointVariable: server.endpoint]
        let runtime = Task {
            do {
                try await LambdaRuntime(
                    environment: environment, logger: quietLogger,
                    start: { _ in "service" },
                    handler: { service in { event, _ in ByteBuffer(string: "\(service):" + String(buffer: event)) } },
                    shutdown: { service in await closed.append(service) }
                ).run()
                return Ended.cleanly
            } catch {
                return Ended.withFailure
            }
        }

        let id = server.enqueue(json: "{}")
        #expect(try await server.result(for: id).responseText == "service:{}")
        #expect(await closed.values.isEmpty, "closed while it still serves")
        try await server.waitForIdleRuntime()
        runtime.cancel()
        #expect(await runtime.value == Ended.cleanly)
        #expect(await closed.values == ["service"])
        try await server.shutdown()
    }

    @Test func nothingIsClosedWhenStartUpFails() async throws {
        let server = try await RuntimeAPIServer.start()
        let closed = Recorder<String>()
        let environment = [RuntimeAPI.endpointVariable: server.endpoint]
        let ended: Ended
        do {
            try await LambdaRuntime(
                environment: environment, logger: quietLogger,
                start: { _ -> String in throw StartupBroken() },
                handler: { _ in { event, _ in event } },
                shutdown: { service in await closed.append(service) }
            ).run()
            ended = .cleanly
        } catch {
            ended = .withFailure
        }
        #expect(ended == .withFailure)
        #expect(try await server.initError().type == "StartupBroken")
        #expect(await closed.values.isEmpty)
        try await server.shutdown()
    }

    @Test func cancellationEndsTheLoopWhileTheLongPollIsOpen() async throws {
        let server = try await RuntimeAPIServer.start()
        let runtime = startRuntime(server) { _ in { _, _ in ByteBuffer() } }
        try await server.waitForIdleRuntime()
        runtime.cancel()
        #expect(await runtime.value == Ended.cleanly)
        try await server.waitForDisconnectedRuntime()

        // The abandoned long-poll does not swallow an invocation: a new runtime gets it.
        let requestID = server.enqueue(json: "{}")
        let second = startRuntime(server) { _ in { _, _ in ByteBuffer(string: "second") } }
        #expect(try await server.result(for: requestID).responseText == "second")
        second.cancel()
        #expect(await second.value == Ended.cleanly)
        #expect(server.violations.isEmpty, "\(server.violations)")
        try await server.shutdown()
    }

    @Test func unreachableRuntimeAPIEndsTheProcessWithFailureAndALogLine() async throws {
        let server = try await RuntimeAPIServer.start()
        let endpoint = server.endpoint
        try await server.shutdown()

        let collector = LineCollector()
        let logger = Logger(label: "runtime") { label in JSONLogHandler(label: label, sink: collector.sink) }
        let status = await runToEnd(environment: [RuntimeAPI.endpointVariable: endpoint], logger: logger) { _ in { _, _ in ByteBuffer() } }
        #expect(status == Ended.withFailure)
        let fatal = try collector.objects().filter { $0["level"] as? String == "FATAL" }
        #expect(fatal.count == 1)
        #expect((fatal.first?["message"] as? String)?.contains("Runtime API failed") == true)
        #expect((fatal.first?["error"] as? String)?.contains(endpoint) == true)
    }

    @Test func missingEndpointVariableFailsWithoutContactingAnything() async throws {
        let status = await runToEnd(environment: [:]) { _ in { _, _ in ByteBuffer() } }
        #expect(status == Ended.withFailure)
        #expect(throws: LambdaRuntimeError.self) { try LambdaRuntimeClient.endpoint(from: ["AWS_LAMBDA_RUNTIME_API": "http://x/"]) }
        #expect(try LambdaRuntimeClient.endpoint(from: ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"]) == "127.0.0.1:9001")
    }

    @Test func malformedNextResponseEndsTheProcessWithFailure() async throws {
        let server = try await RuntimeAPIServer.start()
        let runtime = startRuntime(server) { _ in { _, _ in ByteBuffer() } }
        server.enqueue(.init(payload: [], extraHeaders: [("Lambda-Runtime-Deadline-Ms", "soon")]))
        #expect(await runtime.value == Ended.withFailure)
        try await server.shutdown()
    }

    @Test func requestLoggerCarriesTheRequestIDIntoJSONLogLines() async throws {
        let server = try await RuntimeAPIServer.start()
        let collector = LineCollector()
        let logger = Logger(label: "scanner") { label in JSONLogHandler(label: label, sink: collector.sink) }
        let runtime = startRuntime(server, logger: logger) { _ in
            { _, context in
                context.logger.info("scanned", metadata: ["bucket": "uploads", "key": "a/b c.zip", "verdict": "CLEAN"])
                return ByteBuffer()
            }
        }
        let requestID = server.enqueue(json: "{}")
        _ = try await server.result(for: requestID)
        runtime.cancel()
        #expect(await runtime.value == Ended.cleanly)

        let scanned = try collector.objects().filter { $0["message"] as? String == "scanned" }
        try #require(scanned.count == 1)
        #expect(scanned[0]["requestID"] as? String == requestID)
        #expect(scanned[0]["bucket"] as? String == "uploads")
        #expect(scanned[0]["key"] as? String == "a/b c.zip")
        #expect(scanned[0]["verdict"] as? String == "CLEAN")
        #expect(scanned[0]["logger"] as? String == "scanner")
        try await server.shutdown()
    }

    @Test func oversizedResponseFailsTheInvocationButNotTheRuntime() async throws {
        let server = try await RuntimeAPIServer.start()
        let runtime = startRuntime(server) { _ in
            { event, _ in
                if String(buffer: event) == "big" {
                    return ByteBuffer(repeating: UInt8(ascii: "x"), count: RuntimeAPI.maximumResponseSize + 1)
                }
                return ByteBuffer(string: "small")
            }
        }
        let big = server.enqueue(json: "big")
        let small = server.enqueue(json: "small")
        #expect(try await server.result(for: big).errorType == "Function.ResponseSizeTooLarge")
        #expect(try await server.result(for: small).responseText == "small")
        runtime.cancel()
        #expect(await runtime.value == Ended.cleanly)
        #expect(server.violations.map(\.status) == [413])
        try await server.shutdown()
    }
}
