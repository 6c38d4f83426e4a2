import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Serves one connection of the test Runtime API: collects each request, routes it, and
/// applies it to the shared ``ServerState``.
final class RuntimeAPIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Lambda's limit on a synchronous response, 6 MB.
    static let maximumResponseSize = 6 * 1024 * 1024
    static let prefix = "/2018-06-01/runtime/"

    private let state: NIOLockedValueBox<ServerState>
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var bodySize = 0

    init(state: NIOLockedValueBox<ServerState>) {
        self.state = state
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        state.withLockedValue { $0.connections[ObjectIdentifier(channel)] = channel }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let key = ObjectIdentifier(context.channel)
        let satisfied = state.withLockedValue { state in
            state.connections.removeValue(forKey: key)
            state.nextWaiters.removeValue(forKey: key)
            return state.takeSatisfiedWaiters()
        }
        for (continuation, outcome) in satisfied { continuation.resume(returning: outcome) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = context.channel.allocator.buffer(capacity: 0)
            bodySize = 0
        case .body(var chunk):
            bodySize += chunk.readableBytes
            if bodySize <= Self.maximumResponseSize { body.writeBuffer(&chunk) }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            handle(requestHead, context: context)
        }
    }

    // MARK: - Routing

    private func handle(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = String(request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let method = request.method

        if path == Self.prefix + "invocation/next" {
            guard method == .GET else { return methodNotAllowed(request, path, context) }
            return next(request, path, context)
        }
        if path == Self.prefix + "init/error" {
            guard method == .POST else { return methodNotAllowed(request, path, context) }
            return initError(request, path, context)
        }
        if path.hasPrefix(Self.prefix + "invocation/") {
            let rest = path.dropFirst((Self.prefix + "invocation/").count).split(
                separator: "/", omittingEmptySubsequences: false)
            if rest.count == 2, !rest[0].isEmpty, rest[1] == "response" || rest[1] == "error" {
                guard method == .POST else { return methodNotAllowed(request, path, context) }
                let requestID = String(rest[0]).removingPercentEncoding ?? String(rest[0])
                return invocationResult(request, path, requestID: requestID, isError: rest[1] == "error", context)
            }
        }
        refuse(request, path, status: .notFound, type: "NotFound", "unknown path", context)
    }

    private func methodNotAllowed(_ request: HTTPRequestHead, _ path: String, _ context: ChannelHandlerContext) {
        refuse(request, path, status: .methodNotAllowed, type: "MethodNotAllowed", "\(request.method) is not allowed here", context)
    }

    private func next(_ request: HTTPRequestHead, _ path: String, _ context: ChannelHandlerContext) {
        let channel = context.channel
        let key = ObjectIdentifier(channel)
        enum Decision {
            case refuse(String)
            case held(PendingDispatch?, [(CheckedContinuation<WaitOutcome, any Error>, WaitOutcome)])
        }
        let decision: Decision = state.withLockedValue { state in
            if state.initError != nil {
                return .refuse("next after the runtime reported an init error")
            }
            if let inFlight = state.inFlight {
                return .refuse("next while invocation \(inFlight) is unanswered")
            }
            if state.nextWaiters.contains(where: { $0.key != key && $0.value.channel.isActive }) {
                return .refuse("a second next while one is already waiting")
            }
            state.nextWaiters[key] = ServerState.NextWaiter(channel: channel, keepAlive: request.isKeepAlive)
            return .held(state.dispatch(), state.takeSatisfiedWaiters())
        }
        switch decision {
        case .refuse(let reason):
            refuse(request, path, status: .forbidden, type: "InvalidStateTransition", reason, context)
        case .held(let dispatch, let satisfied):
            dispatch?.send(state: state)
            for (continuation, outcome) in satisfied { continuation.resume(returning: outcome) }
        }
    }

    private func initError(_ request: HTTPRequestHead, _ path: String, _ context: ChannelHandlerContext) {
        guard request.headers.first(name: "Content-Type") != nil else {
            return refuse(request, path, status: .badRequest, type: "InvalidContentType", "missing Content-Type", context)
        }
        let recorded = RuntimeAPIServer.InitError(
            type: request.headers.first(name: "Lambda-Runtime-Function-Error-Type"),
            body: Array(body.readableBytesView))
        let outcome: Result<[(CheckedContinuation<WaitOutcome, any Error>, WaitOutcome)], RefusalReason> =
            state.withLockedValue { state in
                if state.initError != nil { return .failure(RefusalReason("a second init error")) }
                if state.anyServed { return .failure(RefusalReason("init error after an invocation was served")) }
                state.initError = recorded
                return .success(state.takeSatisfiedWaiters())
            }
        switch outcome {
        case .failure(let refusal):
            refuse(request, path, status: .forbidden, type: "InvalidStateTransition", refusal.reason, context)
        case .success(let satisfied):
            accept(request, context)
            for (continuation, waitOutcome) in satisfied { continuation.resume(returning: waitOutcome) }
        }
    }

    private func invocationResult(
        _ request: HTTPRequestHead,
        _ path: String,
        requestID: String,
        isError: Bool,
        _ context: ChannelHandlerContext
    ) {
        if isError, request.headers.first(name: "Content-Type") == nil {
            return refuse(request, path, status: .badRequest, type: "InvalidContentType", "missing Content-Type", context)
        }
        let tooLarge = !isError && bodySize > Self.maximumResponseSize
        let result: RuntimeAPIServer.InvocationResult =
            if tooLarge {
                // What Lambda reports to the caller when a response is over the limit.
                .error(
                    type: "Function.ResponseSizeTooLarge",
                    body: Array(
                        #"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291456 bytes).","errorType":"Function.ResponseSizeTooLarge"}"#
                            .utf8))
            } else if isError {
                .error(type: request.headers.first(name: "Lambda-Runtime-Function-Error-Type"), body: Array(body.readableBytesView))
            } else {
                .response(Array(body.readableBytesView))
            }

        enum Decision {
            case refuse(HTTPResponseStatus, String, String)
            case accepted(PendingDispatch?, [(CheckedContinuation<WaitOutcome, any Error>, WaitOutcome)])
        }
        let decision: Decision = state.withLockedValue { state in
            switch state.status[requestID] {
            case nil, .queued?:
                return .refuse(.badRequest, "InvalidRequestID", "request ID \(requestID) was not served")
            case .completed?:
                return .refuse(.forbidden, "InvalidStateTransition", "request ID \(requestID) was already answered")
            case .inFlight?:
                state.status[requestID] = .completed
                state.inFlight = nil
                state.results[requestID] = result
                return .accepted(state.dispatch(), state.takeSatisfiedWaiters())
            }
        }
        switch decision {
        case .refuse(let status, let type, let reason):
            refuse(request, path, status: status, type: type, reason, context)
        case .accepted(let dispatch, let satisfied):
            if tooLarge {
                refuse(
                    request, path, status: .payloadTooLarge, type: "RequestEntityTooLarge",
                    "response of \(bodySize) bytes is over the 6 MB limit", context)
            } else {
                accept(request, context)
            }
            dispatch?.send(state: state)
            for (continuation, outcome) in satisfied { continuation.resume(returning: outcome) }
        }
    }

    // MARK: - Writing

    private struct RefusalReason: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private func accept(_ request: HTTPRequestHead, _ context: ChannelHandlerContext) {
        respond(request, status: .accepted, body: #"{"status":"OK"}"#, context)
    }

    private func refuse(
        _ request: HTTPRequestHead,
        _ path: String,
        status: HTTPResponseStatus,
        type: String,
        _ reason: String,
        _ context: ChannelHandlerContext
    ) {
        let violation = RuntimeAPIServer.Violation(
            method: request.method.rawValue, path: path, status: status.code, reason: reason)
        state.withLockedValue { $0.violations.append(violation) }
        let message = reason.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        respond(request, status: status, body: #"{"errorMessage":"\#(message)","errorType":"\#(type)"}"#, context)
    }

    private func respond(
        _ request: HTTPRequestHead,
        status: HTTPResponseStatus,
        body text: String,
        _ context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(text.utf8.count))
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
        if request.isKeepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
