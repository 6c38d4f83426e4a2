import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A strict, in-process stand-in for the Lambda Runtime API (2018-06-01), for tests.
///
/// It listens on 127.0.0.1 with a port the system picks, so a runtime under test (this
/// package's client, or the real `scanner` executable in a container with host networking)
/// reaches it through `AWS_LAMBDA_RUNTIME_API=\(endpoint)`.
///
/// It behaves like Lambda's default (one invocation at a time) execution environment:
/// `GET /runtime/invocation/next` is held open until an invocation is queued; each served
/// invocation takes exactly one response or error; an init error is taken only before the
/// first invocation. Everything else is refused with the status Lambda uses and recorded
/// as a ``Violation``, so a test can assert that ``violations`` is empty:
///
/// | request | status |
/// |---|---|
/// | unknown path | 404 |
/// | known path, wrong method | 405 |
/// | response or error for a request ID never served | 400 `InvalidRequestID` |
/// | second response or error for a request ID | 403 `InvalidStateTransition` |
/// | `next` while an invocation is unanswered, or a second concurrent `next` | 403 `InvalidStateTransition` |
/// | init error after an invocation was served, or a second init error | 403 `InvalidStateTransition` |
/// | error or init error without `Content-Type` | 400 `InvalidContentType` |
/// | response over 6 MB | 413 `RequestEntityTooLarge` (the invocation then fails as `Function.ResponseSizeTooLarge`) |
///
/// Constants are written out here rather than shared with the client, so that a mistake in
/// one is not silently mirrored by the other.
public final class RuntimeAPIServer: Sendable {
    /// One invocation to serve.
    public struct Invocation: Sendable {
        /// The event payload, served as the body of `next`.
        public var payload: [UInt8]
        /// The request ID (`Lambda-Runtime-Aws-Request-Id`).
        public var requestID: String
        /// The deadline (`Lambda-Runtime-Deadline-Ms`).
        public var deadline: Date
        /// The invoked ARN (`Lambda-Runtime-Invoked-Function-Arn`).
        public var invokedFunctionARN: String
        /// The X-Ray header (`Lambda-Runtime-Trace-Id`); not sent when `nil`.
        public var traceID: String?
        /// `Lambda-Runtime-Client-Context`; not sent when `nil`.
        public var clientContext: String?
        /// `Lambda-Runtime-Cognito-Identity`; not sent when `nil`.
        public var cognitoIdentity: String?
        /// More headers for the `next` response (for example to test a malformed one);
        /// they replace headers of the same name.
        public var extraHeaders: [(String, String)]

        /// Creates an invocation. Defaults: a new lowercase UUID as request ID, a deadline
        /// 15 minutes (Lambda's maximum timeout) from now, a test function ARN and a trace
        /// header shaped like X-Ray's.
        public init(
            payload: [UInt8],
            requestID: String = UUID().uuidString.lowercased(),
            deadline: Date = Date().addingTimeInterval(900),
            invokedFunctionARN: String = "arn:aws:lambda:us-east-1:123456789012:function:scanner-test",
            traceID: String? = RuntimeAPIServer.makeTraceID(),
            clientContext: String? = nil,
            cognitoIdentity: String? = nil,
            extraHeaders: [(String, String)] = []
        ) {
            self.payload = payload
            self.requestID = requestID
            self.deadline = deadline
            self.invokedFunctionARN = invokedFunctionARN
            self.traceID = traceID
            self.clientContext = clientContext
            self.cognitoIdentity = cognitoIdentity
            self.extraHeaders = extraHeaders
        }

        /// The deadline as the header carries it: milliseconds since the Unix epoch.
        public var deadlineMilliseconds: Int64 {
            Int64((deadline.timeIntervalSince1970 * 1000).rounded())
        }
    }

    /// How an invocation ended.
    public enum InvocationResult: Sendable, Equatable {
        /// The runtime posted a response with this body.
        case response([UInt8])
        /// The runtime posted an error: `Lambda-Runtime-Function-Error-Type` (if sent) and the body.
        case error(type: String?, body: [UInt8])

        /// The decoded error document, when this is an error with a JSON body of Lambda's shape.
        public var errorDocument: ErrorDocument? {
            guard case .error(_, let body) = self else { return nil }
            return try? JSONDecoder().decode(ErrorDocument.self, from: Data(body))
        }
    }

    /// Lambda's error document: `{"errorMessage", "errorType", "stackTrace"}`.
    public struct ErrorDocument: Decodable, Sendable, Equatable {
        /// The message.
        public var errorMessage: String?
        /// The type.
        public var errorType: String?
        /// The stack frames.
        public var stackTrace: [String]?

        /// Creates a document (to compare with a decoded one).
        public init(errorMessage: String?, errorType: String?, stackTrace: [String]?) {
            self.errorMessage = errorMessage
            self.errorType = errorType
            self.stackTrace = stackTrace
        }
    }

    /// An init error the runtime reported.
    public struct InitError: Sendable, Equatable {
        /// `Lambda-Runtime-Function-Error-Type`, if sent.
        public var type: String?
        /// The body as sent.
        public var body: [UInt8]

        /// The decoded error document, when the body has Lambda's shape.
        public var errorDocument: ErrorDocument? {
            try? JSONDecoder().decode(ErrorDocument.self, from: Data(body))
        }
    }

    /// A request the server refused.
    public struct Violation: Sendable, Equatable, CustomStringConvertible {
        /// The request's method.
        public var method: String
        /// The request's path.
        public var path: String
        /// The status the server answered.
        public var status: UInt
        /// Why the request was refused.
        public var reason: String

        /// `METHOD path -> status: reason`.
        public var description: String { "\(method) \(path) -> \(status): \(reason)" }
    }

    /// An error of the server's test API.
    public struct TestServerError: Error, CustomStringConvertible, Sendable {
        /// What went wrong.
        public var description: String
    }

    /// The port the server listens on (on 127.0.0.1).
    public let port: Int
    /// `127.0.0.1:<port>`, the value for `AWS_LAMBDA_RUNTIME_API`.
    public var endpoint: String { "127.0.0.1:\(port)" }

    let state: NIOLockedValueBox<ServerState>
    private let serverChannel: any Channel

    private init(port: Int, state: NIOLockedValueBox<ServerState>, serverChannel: any Channel) {
        self.port = port
        self.state = state
        self.serverChannel = serverChannel
    }

    /// Starts a server on 127.0.0.1 and a port the system picks.
    public static func start(
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RuntimeAPIServer {
        let state = NIOLockedValueBox(ServerState())
        let channel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RuntimeAPIHandler(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw TestServerError(description: "the server socket has no port")
        }
        return RuntimeAPIServer(port: port, state: state, serverChannel: channel)
    }

    /// Queues an invocation; a waiting `next` gets it at once. Returns its request ID.
    /// Queuing a request ID twice is a mistake in the test and stops it.
    @discardableResult
    public func enqueue(_ invocation: Invocation) -> String {
        let dispatch = state.withLockedValue { state in
            state.enqueue(invocation)
            return state.dispatch()
        }
        dispatch?.send(state: state)
        return invocation.requestID
    }

    /// Queues an invocation with this payload and default headers. Returns its request ID.
    @discardableResult
    public func enqueue(_ payload: some Sequence<UInt8>) -> String {
        enqueue(Invocation(payload: Array(payload)))
    }

    /// Queues an invocation whose payload is `json` in UTF-8. Returns its request ID.
    @discardableResult
    public func enqueue(json: String) -> String {
        enqueue(Invocation(payload: Array(json.utf8)))
    }

    /// Waits until the runtime has answered invocation `requestID`, and returns the answer.
    /// Throws at once for a request ID that was never queued, and when the server shuts down.
    public func result(for requestID: String) async throws -> InvocationResult {
        let outcome = try await wait(for: .result(requestID))
        guard case .result(let result) = outcome else { preconditionFailure("mismatched waiter") }
        return result
    }

    /// Waits until the runtime has posted an init error, and returns it.
    public func initError() async throws -> InitError {
        let outcome = try await wait(for: .initError)
        guard case .initError(let error) = outcome else { preconditionFailure("mismatched waiter") }
        return error
    }

    /// Waits until the runtime has a `next` request open with nothing to serve: the
    /// runtime is idle and ready. Useful before cancelling a runtime under test.
    public func waitForIdleRuntime() async throws {
        _ = try await wait(for: .idleRuntime)
    }

    /// Waits until no runtime is connected: every connection, the open long-poll included,
    /// has been closed (a runtime that exited or was cancelled and shut its client down).
    /// Wait for this before starting a second runtime against the same server: until the
    /// server has seen the first one's long-poll close, a new `next` counts as a second
    /// concurrent `next`, and an invocation queued meanwhile may go to the closing connection.
    public func waitForDisconnectedRuntime() async throws {
        _ = try await wait(for: .noConnections)
    }

    /// The answers recorded so far, by request ID.
    public var results: [String: InvocationResult] {
        state.withLockedValue { $0.results }
    }

    /// Every request the server refused, in order.
    public var violations: [Violation] {
        state.withLockedValue { $0.violations }
    }

    /// Stops listening, closes every connection and fails every waiting call.
    public func shutdown() async throws {
        let (connections, waiters) = state.withLockedValue { state in
            state.isShutDown = true
            let connections = Array(state.connections.values)
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            state.nextWaiters.removeAll()
            return (connections, waiters)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: TestServerError(description: "the Runtime API server shut down"))
        }
        try? await serverChannel.close()
        for connection in connections {
            try? await connection.close()
        }
    }

    /// A trace header shaped like X-Ray's: `Root=1-<time>-<24 hex>;Parent=<16 hex>;Sampled=0`.
    public static func makeTraceID() -> String {
        func hex(_ count: Int) -> String {
            String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
        }
        let time = String(Int(Date().timeIntervalSince1970), radix: 16)
        return "Root=1-\(time)-\(hex(24));Parent=\(hex(16));Sampled=0"
    }

    private func wait(for key: WaitKey) async throws -> WaitOutcome {
        let id = state.withLockedValue { state in state.makeWaiterID() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WaitOutcome, any Error>) in
                let immediate: Result<WaitOutcome, any Error>? = state.withLockedValue { state in
                    if state.cancelledWaiters.remove(id) != nil { return .failure(CancellationError()) }
                    if let ready = state.immediateOutcome(for: key) { return ready }
                    state.waiters[id] = ServerState.Waiter(key: key, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state in
                let waiter = state.waiters.removeValue(forKey: id)
                if waiter == nil { state.cancelledWaiters.insert(id) }
                return waiter
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}

/// What a test waits for.
enum WaitKey: Sendable, Equatable {
    case result(String)
    case initError
    case idleRuntime
    case noConnections
}

/// What a waiting test gets.
enum WaitOutcome: Sendable {
    case result(RuntimeAPIServer.InvocationResult)
    case initError(RuntimeAPIServer.InitError)
    case condition
}

/// A `next` response to write to a waiting connection, outside the lock.
struct PendingDispatch {
    let channel: any Channel
    let invocation: RuntimeAPIServer.Invocation
    let keepAlive: Bool

    /// Writes the `next` response; if the write fails, the invocation goes back to the queue.
    func send(state: NIOLockedValueBox<ServerState>) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(invocation.payload.count))
        headers.add(name: "Lambda-Runtime-Aws-Request-Id", value: invocation.requestID)
        headers.add(name: "Lambda-Runtime-Deadline-Ms", value: String(invocation.deadlineMilliseconds))
        headers.add(name: "Lambda-Runtime-Invoked-Function-Arn", value: invocation.invokedFunctionARN)
        if let traceID = invocation.traceID { headers.add(name: "Lambda-Runtime-Trace-Id", value: traceID) }
        if let context = invocation.clientContext { headers.add(name: "Lambda-Runtime-Client-Context", value: context) }
        if let identity = invocation.cognitoIdentity {
            headers.add(name: "Lambda-Runtime-Cognito-Identity", value: identity)
        }
        for (name, value) in invocation.extraHeaders { headers.replaceOrAdd(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }

        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
        let channel = self.channel
        let keepAlive = self.keepAlive
        let invocation = self.invocation
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: invocation.payload))), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { result in
            switch result {
            case .success:
                if !keepAlive { channel.close(promise: nil) }
            case .failure:
                // The runtime hung up before it got the event: serve it to the next `next`.
                let retry = state.withLockedValue { state in
                    state.requeue(invocation)
                    return state.dispatch()
                }
                retry?.send(state: state)
            }
        }
    }
}

/// Everything the server knows, guarded by one lock.
struct ServerState {
    enum Status { case queued, inFlight, completed }

    struct Waiter {
        var key: WaitKey
        var continuation: CheckedContinuation<WaitOutcome, any Error>
    }

    struct NextWaiter {
        var channel: any Channel
        var keepAlive: Bool
    }

    var queue: [RuntimeAPIServer.Invocation] = []
    var status: [String: Status] = [:]
    var inFlight: String?
    var anyServed = false
    var results: [String: RuntimeAPIServer.InvocationResult] = [:]
    var initError: RuntimeAPIServer.InitError?
    var violations: [RuntimeAPIServer.Violation] = []
    var nextWaiters: [ObjectIdentifier: NextWaiter] = [:]
    var connections: [ObjectIdentifier: any Channel] = [:]
    var waiters: [Int: Waiter] = [:]
    var cancelledWaiters: Set<Int> = []
    var isShutDown = false
    private var lastWaiterID = 0

    mutating func makeWaiterID() -> Int {
        lastWaiterID += 1
        return lastWaiterID
    }

    mutating func enqueue(_ invocation: RuntimeAPIServer.Invocation) {
        precondition(status[invocation.requestID] == nil, "request ID \(invocation.requestID) queued twice")
        status[invocation.requestID] = .queued
        queue.append(invocation)
    }

    mutating func requeue(_ invocation: RuntimeAPIServer.Invocation) {
        if inFlight == invocation.requestID { inFlight = nil }
        status[invocation.requestID] = .queued
        queue.insert(invocation, at: 0)
    }

    /// Pairs the first queued invocation with a waiting `next`, if both exist and no
    /// invocation is unanswered.
    mutating func dispatch() -> PendingDispatch? {
        guard !isShutDown, inFlight == nil, !queue.isEmpty,
            let (key, waiter) = nextWaiters.first(where: { $0.value.channel.isActive })
        else { return nil }
        nextWaiters.removeValue(forKey: key)
        let invocation = queue.removeFirst()
        status[invocation.requestID] = .inFlight
        inFlight = invocation.requestID
        anyServed = true
        return PendingDispatch(channel: waiter.channel, invocation: invocation, keepAlive: waiter.keepAlive)
    }

    func immediateOutcome(for key: WaitKey) -> Result<WaitOutcome, any Error>? {
        switch key {
        case .result(let requestID):
            if let result = results[requestID] { return .success(.result(result)) }
            if status[requestID] == nil {
                return .failure(RuntimeAPIServer.TestServerError(description: "request ID \(requestID) was never queued"))
            }
        case .initError:
            if let initError { return .success(.initError(initError)) }
        case .idleRuntime:
            if isRuntimeIdle { return .success(.condition) }
        case .noConnections:
            if connections.isEmpty { return .success(.condition) }
        }
        if isShutDown {
            return .failure(RuntimeAPIServer.TestServerError(description: "the Runtime API server shut down"))
        }
        return nil
    }

    var isRuntimeIdle: Bool {
        inFlight == nil && queue.isEmpty && nextWaiters.values.contains { $0.channel.isActive }
    }

    /// Removes and returns the waiters whose condition now holds, with their outcome.
    mutating func takeSatisfiedWaiters() -> [(CheckedContinuation<WaitOutcome, any Error>, WaitOutcome)] {
        var satisfied: [(CheckedContinuation<WaitOutcome, any Error>, WaitOutcome)] = []
        for (id, waiter) in waiters {
            if case .success(let outcome)? = immediateOutcome(for: waiter.key) {
                satisfied.append((waiter.continuation, outcome))
                waiters.removeValue(forKey: id)
            }
        }
        return satisfied
    }
}
